"""The batch adapter: ``brushwork batch`` runs a manifest of work (a folder of images, or a CSV or
Parquet table with a row per output) through :mod:`plugin_core.api`, on Ray Data when it is
installed (``brushwork[scale]``: a local Ray by default, a cluster by address) or in this process.

:mod:`.manifest` reads the rows and writes the results table; :mod:`.painter` paints rows (one per
actor on Ray, models loaded once per process); :mod:`.engines` runs the painters.
"""
