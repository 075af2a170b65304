"""brushwork's ComfyUI node pack: what each node does in ``nodes.py`` (plain functions over
``plugin_core``), their declarations on ComfyUI's current node schema in ``schema.py``, and what
they use of ComfyUI (devices, progress, model folders, memory) in ``host.py``."""


async def comfy_entrypoint():
    """ComfyUI's entry for ``comfy_api.latest`` node packs: the extension listing brushwork's nodes
    (imported here, inside ComfyUI, which provides ``comfy_api``)."""
    from .schema import BrushworkExtension

    return BrushworkExtension()


__all__ = ["comfy_entrypoint"]
