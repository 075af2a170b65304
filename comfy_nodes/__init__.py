"""brushwork's ComfyUI node pack: a thin adapter over ``plugin_core.api`` (see nodes.py)."""

from .host import register_model_folder
from .nodes import NODE_CLASS_MAPPINGS, NODE_DISPLAY_NAME_MAPPINGS

register_model_folder()

__all__ = ["NODE_CLASS_MAPPINGS", "NODE_DISPLAY_NAME_MAPPINGS"]
