"""Every control's name, choices, default and help, written once and free of torch.

A door describes its controls from here (``brushwork --help``, ComfyUI's inputs, GIMP's dialog)
without loading a network; :mod:`plugin_core.requests` and :mod:`plugin_core.api` apply them.
"""

from __future__ import annotations

from .errors import RequestError

METHODS = ("gatys", "adain", "feedforward", "fast")
ONE_PASS = tuple(method for method in METHODS if method != "gatys")
"""The methods that paint in one pass of a network, in seconds."""
DEFAULT_METHOD = "adain"
"""One pass with brushwork's own AdaIN model: seconds, any style; Gram optimisation is one flag away."""
DEFAULT_STRENGTH = {"gatys": 0.5, "adain": 1.0, "feedforward": 1.0, "fast": 1.0}
DEFAULT_SIZE = 512
"""Long side of the working and output image, in every door."""
DEFAULT_STEPS = 200
"""The Gram method's steps over all scales."""
COLOR_MODES = ("none", "luminance", "histogram", "reinhard", "linear")
COLOR_WHEN = ("before", "after")
PRECISIONS = ("auto", "float32", "bfloat16", "float16")
"""The networks' number formats in torch. ``auto``: bfloat16 where the hardware computes it natively
(CUDA, CPUs with AMX or AVX512-BF16), else float32."""
BACKENDS = ("torch", "onnx")
INT8 = "int8"
"""A painting precision of the onnx backend alone: statically quantised graphs
(:mod:`plugin_core.onnx_int8`), for the methods in ``INT8_METHODS``; the rest runs float32."""
INT8_METHODS = ("feedforward", "adain")
PAINT_PRECISIONS = (*PRECISIONS, INT8)

CONTENT_LAYERS = ("relu4_2",)
STYLE_LAYERS = ("relu1_1", "relu2_1", "relu3_1", "relu4_1", "relu5_1")
OPTIMIZERS = ("lbfgs", "adam")
PAINTED_INITS = ("adain", "fast")
"""The one-pass methods whose painting (default model, full strength) can start Gram optimisation."""
INITS = ("content", "noise", "style", *PAINTED_INITS)
DEFAULT_INIT = "content"
DEFAULT_SCALES = 3
DEFAULT_TV_WEIGHT = 0.0

CONSISTENCY = ("off", "stats", "flow")
"""How a clip's frames are kept steady: not at all, image-wide statistics smoothed over time, or that
and the previous result carried along the optical flow."""
TEMPORAL_WEIGHT = 0.7
"""``w``: how much of the warped previous result a trusted pixel keeps (0..1)."""
CLIP_SUFFIXES = (".mp4", ".mov", ".mkv", ".webm", ".gif")
"""The clip files brushwork reads and writes (:data:`plugin_core.video.clip.CONTAINERS` says how)."""
DEFAULT_CRF = 18
FOLDER_FPS = 24
"""The frame rate of a folder of frames, unless given."""

MIN_TILE = 256
"""The smallest tile side: twice the overlap tiles share (:mod:`plugin_core.tiling`)."""

HELP = {
    "method": f"how to paint: {', '.join(METHODS)} (default {DEFAULT_METHOD})",
    "strength": "0 = the photo, 1 = all style (default: gatys 0.5, where 0.25 is Gatys et al.'s classic balance; "
                "adain, feedforward and fast 1)",
    "size": "long side of the working and output image (0: the input's own size)",
    "tile": "paint large images in overlapping tiles of this many pixels that share the whole image's "
            "statistics, so no seams show: auto or 0 (default: when free memory calls for it), off, or a side",
    "color": "keep the photo's colours: none, luminance (transfer on luminance only), or recolour by "
             "histogram matching, reinhard (mean/std) or a linear map",
    "steps": f"Gram optimisation steps over all scales (default {DEFAULT_STEPS})",
    "style_weights": "one weight per style image (default 1 each): several styles are mixed",
    "watermark": "add brushwork's invisible mark, which says the image was made by brushwork and survives "
                 "re-saving, resizing and cropping (default on; `brushwork verify` reads it)",
    "init": f"where Gram optimisation starts: {', '.join(INITS)} or an image file (default {DEFAULT_INIT})",
}


def check_method(method: str) -> None:
    if method not in METHODS:
        raise RequestError(f"unknown method {method!r}: use one of {', '.join(METHODS)}")


def tile_side(value: str | int | None) -> int | None:
    """``auto``, 0 or None -> None (the core decides), ``off`` -> 0 (the core's "never"), a number ->
    that side in pixels."""
    if value is None or value == "auto":
        return None
    if value == "off":
        return 0
    try:
        side = int(value)
    except (TypeError, ValueError):
        raise RequestError(f"tile must be auto, off or a number of pixels, not {value!r}") from None
    if side == 0:
        return None
    if side < MIN_TILE:
        raise RequestError(f"tile must be at least {MIN_TILE} pixels, got {side}")
    return side


def tile_label(value: str | int | None) -> str | int:
    """The tile as every door records it: ``auto``, ``off`` or the side in pixels."""
    side = tile_side(value)
    return "auto" if side is None else "off" if side == 0 else side
