"""brushwork's ComfyUI nodes: thin declarations over :mod:`plugin_core.api`.

Every styling node works frame by frame (an IMAGE batch is a series of frames), checks for
Cancel between frames and steps, reports progress, and returns an IMAGE at the working size.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from plugin_core import api
from plugin_core.color import MATCHES, transfer_color
from plugin_core.errors import Cancelled, RequestError
from plugin_core.image import resize
from plugin_core.methods.gatys import INITS, OPTIMIZERS, GatysSettings
from plugin_core.regions import Region, Style
from plugin_core.requests import DEFAULT_SIZE, DEFAULT_STEPS, HELP, Fields, build
from plugin_core.video.frames import CONSISTENCY, stylize_frames

from . import host
from .convert import frame_mask, image_in, image_out, masks_in

CATEGORY = "image/style transfer"
MODEL = "BRUSHWORK_MODEL"
REGIONS = "BRUSHWORK_REGIONS"
COLOR_CHOICES = list(api.COLOR_MODES)
GRAM_PREVIEW_EVERY = 5
PROGRESS_PER_FRAME = 1000
"""Ticks of ComfyUI's progress bar per frame: the core reports fractions of a frame."""


@dataclass(frozen=True)
class RegionInput:
    """One link of a ``BRUSHWORK_REGIONS`` chain: style images ``[N,3,H,W]``, a MASK, a weight."""

    styles: torch.Tensor
    mask: torch.Tensor
    weight: float


def _tip(kind, text: str, **options):
    return (kind, {"tooltip": text, **options})


def _strength(method: str):
    return _tip("FLOAT", HELP["strength"], default=api.DEFAULT_STRENGTH[method], min=0.0, max=1.0, step=0.01)


SIZE = _tip("INT", HELP["size"], default=DEFAULT_SIZE, min=0, max=8192, step=8)
COLOR = _tip(COLOR_CHOICES, HELP["color"], default="none")
TILE = _tip("INT", HELP["tile"], default=0, min=0, max=8192, step=32)
STYLE_WEIGHTS = _tip("STRING", HELP["style_weights"] + ", e.g. '3, 1'", default="")
MASK_INPUT = _tip("MASK", "where the style applies (white = styled); resized to the image; an all-zero mask is ignored")
REGIONS_INPUT = _tip(REGIONS, "more styles, each in its own masked region (from Style Regions nodes)")
TEMPORAL = _tip(list(CONSISTENCY), "the batch as a clip: off paints each frame alone; stats smooths the image-wide "
                "statistics over the frames; flow also carries the previous frame along the optical flow "
                "(no flicker)", default="off")


def _weights(text: str, count: int) -> list[float]:
    """``"3, 1"`` -> ``[3.0, 1.0]``; empty: equal weights."""
    if not text.strip():
        return [1.0] * count
    try:
        weights = [float(part) for part in text.replace(";", ",").split(",") if part.strip()]
    except ValueError:
        raise RequestError(f"style weights must be numbers separated by commas, got {text!r}") from None
    if len(weights) != count:
        raise RequestError(f"{len(weights)} style weights for {count} style images")
    return weights


@dataclass(frozen=True)
class Plan:
    """A node's styles: its own (style images, their weights, its mask per frame) and the chained
    regions (each with its mask per frame, scaled by the region's weight)."""

    styles: list[torch.Tensor]
    weights: list[float]
    masks: torch.Tensor | None
    regions: list[tuple[list[Style], torch.Tensor | None]]

    def fields(self, method: str, frame: int, **values) -> Fields:
        """The fields of one frame; ``values``: the node's other inputs."""
        mask = frame_mask(self.masks, frame)
        return Fields(method=method, styles=self.styles, style_weights=self.weights,
                      masks=[] if mask is None else [mask], **values)

    def more_regions(self, frame: int) -> list[Region]:
        return [Region(styles, frame_mask(masks, frame)) for styles, masks in self.regions]


def _plan(style, style_weights: str, mask, regions, size: tuple[int, int]) -> Plan:
    """The node's own style (with its mask), then the chained regions."""
    styles = [] if style is None else list(image_in(style, "style").split(1))
    chained = []
    for index, region in enumerate(regions or []):
        masks = masks_in(region.mask, size, f"mask of region {index + 1}")
        chained.append(([Style(s[None]) for s in region.styles], None if masks is None else masks * region.weight))
    if not styles and not chained:
        raise RequestError("no style: connect a style image or Style Regions")
    return Plan(styles, _weights(style_weights, len(styles)) if styles else [], masks_in(mask, size, "mask"), chained)


def _run(content, make_request, temporal: str = "off") -> torch.Tensor:
    """Stylize every frame of ``content`` with ``make_request(frame_image, frame)``, as a clip when
    ``temporal`` says so (:mod:`plugin_core.video.frames`), with ComfyUI's progress bar over all the
    frames (and the core's previews); Cancel stops."""
    frames = image_in(content, "image")
    count = frames.shape[0]
    bar = host.Progress(count * PROGRESS_PER_FRAME)

    def requests():
        for frame in range(count):
            if host.interrupted():
                host.raise_interrupt()
            request = make_request(frames[frame : frame + 1], frame)
            request.cancel = host.interrupted
            request.progress = lambda report, frame=frame: bar.update(
                round((frame + report.fraction) * PROGRESS_PER_FRAME), count * PROGRESS_PER_FRAME, report.image)
            yield request

    results = []
    try:
        for result in stylize_frames(requests(), temporal):
            results.append(result)
            bar.update(len(results) * PROGRESS_PER_FRAME, count * PROGRESS_PER_FRAME, result)
    except Cancelled:
        host.raise_interrupt()
        raise
    return image_out(torch.cat(results), host.output_device())


class BrushworkLoadStyleModel:
    DESCRIPTION = ("Load a style model: an AdaIN decoder, a fast arbitrary-style model or a feed-forward style, "
                   "from ComfyUI's models/style_transfer or brushwork's own models. The family is told from the file.")
    CATEGORY = CATEGORY
    RETURN_TYPES = (MODEL,)
    RETURN_NAMES = ("model",)
    FUNCTION = "load"

    @classmethod
    def INPUT_TYPES(cls):
        return {"required": {"model_name": _tip(host.model_choices(), "a .safetensors or .pth file, or a model name")}}

    def load(self, model_name: str):
        return (host.load(model_name),)


class BrushworkStyleTransferAdaIN:
    DESCRIPTION = ("Paint the image in the style of any style image in one pass, with an AdaIN decoder or "
                   "brushwork's fast model. A batch of images is a series of frames; a batch of style images "
                   "mixes several styles.")
    CATEGORY = CATEGORY
    RETURN_TYPES = ("IMAGE",)
    FUNCTION = "stylize"

    @classmethod
    def INPUT_TYPES(cls):
        return {
            "required": {
                "image": _tip("IMAGE", "the photo (a batch = frames)"),
                "model": _tip(MODEL, "an AdaIN decoder or a fast model from Load Style Model"),
                "strength": _strength("adain"),
                "size": SIZE,
                "color": COLOR,
                "style_weights": STYLE_WEIGHTS,
            },
            "optional": {
                "style": _tip("IMAGE", "the style image(s) (a batch = several styles mixed)"),
                "mask": MASK_INPUT,
                "regions": REGIONS_INPUT,
                "tile": TILE,
                "temporal": TEMPORAL,
            },
        }

    def stylize(self, image, model, strength, size, color, style_weights, style=None, mask=None, regions=None,
                tile=0, temporal="off"):
        loaded = host.ready(model)
        if loaded.family not in ("adain", "fast"):
            raise RequestError(f"{loaded.name} is a {loaded.family} model: use it with Style Transfer (Feed-forward)")
        plan = _plan(style, style_weights, mask, regions, tuple(image.shape[1:3]))

        def request(frame_image, frame):
            wanted = plan.fields(loaded.family, frame, models=[loaded], strength=strength, size=size, tile=tile,
                                 color=color)
            return build(frame_image, wanted, plan.more_regions(frame), device=str(host.device()))

        return (_run(image, request, temporal),)


class BrushworkStyleTransferFeedForward:
    DESCRIPTION = "Paint the image with a trained feed-forward style model, the fastest method."
    CATEGORY = CATEGORY
    RETURN_TYPES = ("IMAGE",)
    FUNCTION = "stylize"

    @classmethod
    def INPUT_TYPES(cls):
        return {
            "required": {
                "image": _tip("IMAGE", "the photo (a batch = frames)"),
                "model": _tip(MODEL, "a feed-forward style from Load Style Model"),
                "strength": _strength("feedforward"),
                "size": SIZE,
                "color": COLOR,
            },
            "optional": {"mask": MASK_INPUT, "tile": TILE, "temporal": TEMPORAL},
        }

    def stylize(self, image, model, strength, size, color, mask=None, tile=0, temporal="off"):
        loaded = host.ready(model)
        if loaded.family != "feedforward":
            raise RequestError(f"{loaded.name} is an {loaded.family} model: use it with Style Transfer (AdaIN / fast)")
        masks = masks_in(mask, tuple(image.shape[1:3]), "mask")

        def request(frame_image, frame):
            mask = frame_mask(masks, frame)
            wanted = Fields(method="feedforward", models=[loaded], masks=[] if mask is None else [mask],
                            strength=strength, size=size, tile=tile, color=color)
            return build(frame_image, wanted, device=str(host.device()))

        return (_run(image, request, temporal),)


class BrushworkNeuralStyle:
    DESCRIPTION = ("Gram-matrix optimisation (Gatys et al.): the best quality from any style image, in steps. "
                   "Shows previews while it works; Cancel stops it between steps.")
    CATEGORY = CATEGORY
    RETURN_TYPES = ("IMAGE",)
    FUNCTION = "stylize"

    @classmethod
    def INPUT_TYPES(cls):
        return {
            "required": {
                "image": _tip("IMAGE", "the photo (a batch = frames)"),
                "steps": _tip("INT", HELP["steps"], default=DEFAULT_STEPS, min=1, max=5000),
                "size": SIZE,
                "strength": _strength("gatys"),
                "tv_weight": _tip("FLOAT", "total-variation weight (smooths noise)", default=0.0, min=0.0,
                                  max=1e4, step=0.1),
                "optimizer": _tip(list(OPTIMIZERS), "L-BFGS converges in fewer steps; Adam is steadier",
                                  default="lbfgs"),
                "init": _tip(list(INITS), "the image the optimisation starts from", default="content"),
                "seed": _tip("INT", "seed of the noise init", default=0, min=0, max=2**31 - 1),
                "color": COLOR,
                "style_weights": STYLE_WEIGHTS,
            },
            "optional": {
                "style": _tip("IMAGE", "the style image(s) (a batch = several styles mixed)"),
                "mask": MASK_INPUT,
                "regions": REGIONS_INPUT,
                "tile": TILE,
            },
        }

    def stylize(self, image, steps, size, strength, tv_weight, optimizer, init, seed, color, style_weights,
                style=None, mask=None, regions=None, tile=0):
        plan = _plan(style, style_weights, mask, regions, tuple(image.shape[1:3]))
        vgg = host.gram_network()

        def request(frame_image, frame):
            settings = GatysSettings(tv_weight=tv_weight, optimizer=optimizer, init=init,
                                     preview_every=GRAM_PREVIEW_EVERY)
            wanted = plan.fields("gatys", frame, strength=strength, size=size, tile=tile, steps=steps, seed=seed,
                                 color=color)
            return build(frame_image, wanted, plan.more_regions(frame), gatys=settings, loss_network=vgg,
                         device=str(host.device()))

        return (_run(image, request),)


class BrushworkStyleRegions:
    DESCRIPTION = ("Add a style for one region of the image: chain several of these into the AdaIN or Neural Style "
                   "node's regions input to paint each region in its own style.")
    CATEGORY = CATEGORY
    RETURN_TYPES = (REGIONS,)
    RETURN_NAMES = ("regions",)
    FUNCTION = "add"

    @classmethod
    def INPUT_TYPES(cls):
        return {
            "required": {
                "style": _tip("IMAGE", "the style image(s) of this region (a batch = mixed equally)"),
                "mask": _tip("MASK", "the region (white = this style)"),
                "weight": _tip("FLOAT", "how strongly this style covers its region (scales the mask)",
                               default=1.0, min=0.0, max=1.0, step=0.01),
            },
            "optional": {"regions": _tip(REGIONS, "regions chained before this one")},
        }

    def add(self, style, mask, weight, regions=None):
        return ([*(regions or []), RegionInput(image_in(style, "style"), mask, weight)],)


class BrushworkColorMatch:
    DESCRIPTION = ("Recolour an image after a reference: histogram matching, Reinhard's mean/std, a linear map, "
                   "or luminance only. Masks choose where the colours are measured and where they are applied.")
    CATEGORY = CATEGORY
    RETURN_TYPES = ("IMAGE",)
    FUNCTION = "match"

    @classmethod
    def INPUT_TYPES(cls):
        return {
            "required": {
                "image": _tip("IMAGE", "the image to recolour"),
                "reference": _tip("IMAGE", "whose colours to take"),
                "method": _tip(list(MATCHES), "how colours are matched", default="histogram"),
                "strength": _tip("FLOAT", "0 = unchanged, 1 = fully matched", default=1.0, min=0.0, max=1.0,
                                 step=0.01),
            },
            "optional": {
                "mask": _tip("MASK", "where to apply the new colours (white = recolour)"),
                "reference_mask": _tip("MASK", "where in the reference to measure its colours"),
            },
        }

    def match(self, image, reference, method, strength, mask=None, reference_mask=None):
        pixels = image_in(image, "image")
        colours = image_in(reference, "reference")
        size = tuple(pixels.shape[-2:])
        if method == "luminance":
            colours = resize(colours, size)
        recoloured = transfer_color(
            pixels, colours, method, mask=masks_in(mask, size, "mask"),
            reference_mask=masks_in(reference_mask, tuple(colours.shape[-2:]), "reference mask"),
        )
        return (image_out(torch.lerp(pixels, recoloured, strength), host.output_device()),)


NODE_CLASS_MAPPINGS = {
    "BrushworkLoadStyleModel": BrushworkLoadStyleModel,
    "BrushworkStyleTransferAdaIN": BrushworkStyleTransferAdaIN,
    "BrushworkStyleTransferFeedForward": BrushworkStyleTransferFeedForward,
    "BrushworkNeuralStyle": BrushworkNeuralStyle,
    "BrushworkStyleRegions": BrushworkStyleRegions,
    "BrushworkColorMatch": BrushworkColorMatch,
}
NODE_DISPLAY_NAME_MAPPINGS = {
    "BrushworkLoadStyleModel": "Load Style Model",
    "BrushworkStyleTransferAdaIN": "Style Transfer (AdaIN / fast)",
    "BrushworkStyleTransferFeedForward": "Style Transfer (Feed-forward)",
    "BrushworkNeuralStyle": "Neural Style (Gram optimisation)",
    "BrushworkStyleRegions": "Style Regions",
    "BrushworkColorMatch": "Color Match",
}
