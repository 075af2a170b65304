"""brushwork's six nodes declared on ComfyUI's current node schema (``comfy_api.latest``).

Each node states its inputs, tooltips and outputs (:func:`declare`) and hands the values to its
function in :mod:`.nodes`. Node IDs, input names and the order of inputs are those saved workflows hold (the
V1 pack's ``INPUT_TYPES``: required inputs, then optional ones), so old workflows load unchanged.
Imported only inside ComfyUI, which provides ``comfy_api``.
"""

from __future__ import annotations

from comfy_api.latest import ComfyExtension, io

from plugin_core import api
from plugin_core.color import MATCHES
from plugin_core.controls import CONSISTENCY, DEFAULT_INIT, DEFAULT_SIZE, DEFAULT_STEPS, HELP, INITS, OPTIMIZERS

from . import host, nodes

CATEGORY = "image/style transfer"
Model = io.Custom("BRUSHWORK_MODEL")
Regions = io.Custom("BRUSHWORK_REGIONS")


def strength(method: str) -> io.Float.Input:
    return io.Float.Input("strength", default=api.DEFAULT_STRENGTH[method], min=0.0, max=1.0, step=0.01,
                          tooltip=HELP["strength"])


def size() -> io.Int.Input:
    return io.Int.Input("size", default=DEFAULT_SIZE, min=0, max=8192, step=8, tooltip=HELP["size"])


def color() -> io.Combo.Input:
    return io.Combo.Input("color", options=list(api.COLOR_MODES), default="none", tooltip=HELP["color"])


def tile() -> io.Int.Input:
    return io.Int.Input("tile", default=0, min=0, max=8192, step=32, optional=True, tooltip=HELP["tile"])


def style_weights() -> io.String.Input:
    return io.String.Input("style_weights", default="", tooltip=HELP["style_weights"] + ", e.g. '3, 1'")


def photo() -> io.Image.Input:
    return io.Image.Input("image", tooltip="the photo (a batch = frames)")


def styles() -> io.Image.Input:
    return io.Image.Input("style", optional=True, tooltip="the style image(s) (a batch = several styles mixed)")


def mask() -> io.Mask.Input:
    return io.Mask.Input("mask", optional=True,
                         tooltip="where the style applies (white = styled); resized to the image; an all-zero mask "
                                 "is ignored")


def regions() -> io.Input:
    return Regions.Input("regions", optional=True,
                         tooltip="more styles, each in its own masked region (from Style Regions nodes)")


def temporal() -> io.Combo.Input:
    return io.Combo.Input("temporal", options=list(CONSISTENCY), default="off", optional=True,
                          tooltip="the batch as a clip: off paints each frame alone; stats smooths the image-wide "
                                  "statistics over the frames; flow also carries the previous frame along the "
                                  "optical flow (no flicker)")


def watermark() -> io.Boolean.Input:
    return io.Boolean.Input("watermark", default=True, optional=True, tooltip=HELP["watermark"])


def declare(node_id: str, display_name: str, description: str, inputs, outputs: list[io.Output], run) -> type:
    """A node: its schema (``inputs()`` read afresh each time ComfyUI asks, so the model list is
    current) and ``execute``, which hands the input values by name to ``run``."""

    class Node(io.ComfyNode):
        @classmethod
        def define_schema(cls) -> io.Schema:
            return io.Schema(node_id=node_id, display_name=display_name, category=CATEGORY, description=description,
                             inputs=inputs(), outputs=outputs)

        @classmethod
        def execute(cls, **values) -> io.NodeOutput:
            result = run(**values)
            return io.NodeOutput(*result) if isinstance(result, tuple) else io.NodeOutput(result)

    Node.__name__ = Node.__qualname__ = node_id
    return Node


NODES = [
    declare(
        "BrushworkLoadStyleModel", "Load Style Model",
        "Load a style model: an AdaIN decoder, a fast arbitrary-style model or a feed-forward style, from ComfyUI's "
        "models/style_transfer or brushwork's own models. The family is told from the file.",
        lambda: [io.Combo.Input("model_name", options=host.model_choices(),
                                tooltip="a .safetensors or .pth file, or a model name")],
        [Model.Output(display_name="model")], nodes.load_style_model,
    ),
    declare(
        "BrushworkStyleTransferAdaIN", "Style Transfer (AdaIN / fast)",
        "Paint the image in the style of any style image in one pass, with an AdaIN decoder or brushwork's fast "
        "model. A batch of images is a series of frames; a batch of style images mixes several styles.",
        lambda: [
            photo(), Model.Input("model", tooltip="an AdaIN decoder or a fast model from Load Style Model"),
            strength("adain"), size(), color(), style_weights(),
            styles(), mask(), regions(), tile(), temporal(), watermark(),
        ],
        [io.Image.Output()], nodes.style_transfer,
    ),
    declare(
        "BrushworkStyleTransferFeedForward", "Style Transfer (Feed-forward)",
        "Paint the image with a trained feed-forward style model, the fastest method.",
        lambda: [
            photo(), Model.Input("model", tooltip="a feed-forward style from Load Style Model"),
            strength("feedforward"), size(), color(),
            mask(), tile(), temporal(), watermark(),
        ],
        [io.Image.Output()], nodes.feedforward,
    ),
    declare(
        "BrushworkNeuralStyle", "Neural Style (Gram optimisation)",
        "Gram-matrix optimisation (Gatys et al.): the best quality from any style image, in steps. Shows previews "
        "while it works; Cancel stops it between steps.",
        lambda: [
            photo(),
            io.Int.Input("steps", default=DEFAULT_STEPS, min=1, max=5000, tooltip=HELP["steps"]),
            size(), strength("gatys"),
            io.Float.Input("tv_weight", default=0.0, min=0.0, max=1e4, step=0.1,
                           tooltip="total-variation weight (smooths noise)"),
            io.Combo.Input("optimizer", options=list(OPTIMIZERS), default="lbfgs",
                           tooltip="L-BFGS converges in fewer steps; Adam is steadier"),
            io.Combo.Input("init", options=list(INITS), default=DEFAULT_INIT,
                           tooltip="the image the optimisation starts from: the photo, noise, the style, or "
                                   "the painting of a one-pass method (adain, fast)"),
            io.Int.Input("seed", default=0, min=0, max=2**31 - 1, tooltip="seed of the noise init"),
            color(), style_weights(),
            styles(), mask(), regions(), tile(), watermark(),
        ],
        [io.Image.Output()], nodes.neural_style,
    ),
    declare(
        "BrushworkStyleRegions", "Style Regions",
        "Add a style for one region of the image: chain several of these into the AdaIN or Neural Style node's "
        "regions input to paint each region in its own style.",
        lambda: [
            io.Image.Input("style", tooltip="the style image(s) of this region (a batch = mixed equally)"),
            io.Mask.Input("mask", tooltip="the region (white = this style)"),
            io.Float.Input("weight", default=1.0, min=0.0, max=1.0, step=0.01,
                           tooltip="how strongly this style covers its region (scales the mask)"),
            Regions.Input("regions", optional=True, tooltip="regions chained before this one"),
        ],
        [Regions.Output(display_name="regions")], nodes.style_regions,
    ),
    declare(
        "BrushworkColorMatch", "Color Match",
        "Recolour an image after a reference: histogram matching, Reinhard's mean/std, a linear map, or luminance "
        "only. Masks choose where the colours are measured and where they are applied.",
        lambda: [
            io.Image.Input("image", tooltip="the image to recolour"),
            io.Image.Input("reference", tooltip="whose colours to take"),
            io.Combo.Input("method", options=list(MATCHES), default="histogram", tooltip="how colours are matched"),
            io.Float.Input("strength", default=1.0, min=0.0, max=1.0, step=0.01,
                           tooltip="0 = unchanged, 1 = fully matched"),
            io.Mask.Input("mask", optional=True, tooltip="where to apply the new colours (white = recolour)"),
            io.Mask.Input("reference_mask", optional=True, tooltip="where in the reference to measure its colours"),
        ],
        [io.Image.Output()], nodes.color_match,
    ),
    declare(
        "BrushworkVerifyWatermark", "Verify Watermark",
        "Read brushwork's invisible watermark: which images of the batch carry it, and what it says. It survives "
        "re-saving, resizing and cropping; it is not proof against a determined forger.",
        lambda: [io.Image.Input("image", tooltip="the images to read (a batch: each is read)")],
        [io.String.Output(display_name="report"), io.Boolean.Output(display_name="all marked")],
        nodes.verify_watermark,
    ),
]


class BrushworkExtension(ComfyExtension):
    async def on_load(self) -> None:
        host.register_model_folder()

    async def get_node_list(self) -> list[type[io.ComfyNode]]:
        return NODES
