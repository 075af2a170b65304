"""brushwork, the product: the doors that are not host plug-ins, over the core in :mod:`plugin_core`.

``brushwork.stylize`` (the Python door, :mod:`.painting`), ``brushwork.cli`` (the ``brushwork``
command), ``brushwork.service`` (the REST service, extra ``serve``) and ``brushwork.batch``
(manifests on Ray Data, extra ``scale``). Each turns its own fields into a checked request with
:mod:`plugin_core.requests` and paints through :mod:`plugin_core.api`; the core imports none of them.
"""

__all__ = ["stylize"]


def __getattr__(name: str):
    """``brushwork.stylize``, loaded (with torch) on first use, so the command line starts at once."""
    if name == "stylize":
        from .painting import stylize

        return stylize
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
