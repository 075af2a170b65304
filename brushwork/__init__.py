"""brushwork, the product: the doors that are not host plug-ins, over the core in :mod:`plugin_core`.

``brushwork.stylize`` (the Python door, :mod:`.painting`), ``brushwork.cli`` (the ``brushwork``
command), ``brushwork.service`` (the REST service, extra ``serve``) and ``brushwork.batch``
(manifests on Ray Data, extra ``scale``). Each turns its own fields into a checked request with
:mod:`plugin_core.requests` and paints through :mod:`plugin_core.api`; the core imports none of them.
"""

from .painting import stylize

__all__ = ["stylize"]
