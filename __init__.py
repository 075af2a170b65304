"""ComfyUI's entry when this repository is cloned into ``ComfyUI/custom_nodes/`` (under any name).

brushwork's core (``plugin_core``) is used from the installed package when there is one
(``pip install brushwork``), else from this checkout. Imported as a plain module (pytest does so
when the checkout's folder name is no Python name), it defines nothing.
"""

import importlib.util
import sys
from pathlib import Path

if __package__:
    if importlib.util.find_spec("plugin_core") is None:
        sys.path.insert(0, str(Path(__file__).resolve().parent))

    from .comfy_nodes import comfy_entrypoint

    __all__ = ["comfy_entrypoint"]
