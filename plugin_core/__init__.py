"""brushwork's host-agnostic core: neural style transfer as plain functions of tensors.

Every door (``brushwork``'s command line, Python API, REST service and batch; the ComfyUI nodes;
the GIMP worker) builds its request with :mod:`plugin_core.requests` and paints it with
:func:`plugin_core.api.stylize`. The core imports none of them.
"""

__version__ = "0.1.0"
