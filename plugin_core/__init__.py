"""brushwork's host-agnostic core: neural style transfer as plain functions of tensors.

Hosts (the CLI, ComfyUI nodes, the GIMP bridge) call :func:`plugin_core.api.stylize`.
"""

__version__ = "0.1.0"
