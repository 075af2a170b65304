"""One request builder for every door: a door's plain fields -> a checked :class:`api.StyleRequest`.

Each door (the command line, the Python API, ComfyUI, GIMP, the REST service, batch manifests,
video) converts only what is its own (argparse values, ComfyUI tensors, GIMP layers, multipart
uploads, table cells) into :class:`Fields`, and :func:`build` applies every rule and default,
written here once:

* ``feedforward`` paints with trained style models (one or more, ``models``) and takes no style
  image; ``adain``, ``fast`` and ``gatys`` paint from style images, ``adain`` and ``fast`` with at
  most one model of their own (None: the installed default), ``gatys`` with none;
* ``style_weights``: one per style (default 1 each); ``masks``: none, one for all styles, or one
  per style (:func:`plugin_core.regions.assign`);
* ``strength`` None takes the method's default (:data:`api.DEFAULT_STRENGTH`);
* ``size``: the long side of the working and output image, :data:`DEFAULT_SIZE` unless given,
  0 for the input's own;
* ``tile``: ``auto`` (tiles when free memory calls for it; also 0, as the numeric fields of ComfyUI
  and GIMP have always said it), ``off`` (never), or a tile side in pixels;
* ``steps``: the Gram method's steps over all scales, :data:`DEFAULT_STEPS` unless given;
* ``watermark``: brushwork's invisible mark on the result, on unless a door turns it off (the REST
  service never does).

:data:`HELP` holds the words every door shows for these fields, so a tooltip and a ``--help``
line say the same thing.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import torch

from . import api
from .errors import RequestError
from .loaders import LoadedModel
from .regions import Region, Style, assign
from .tiling import tile_side

DEFAULT_SIZE, DEFAULT_STEPS = api.DEFAULT_SIZE, api.DEFAULT_STEPS
ModelSpec = str | Path | LoadedModel

HELP = {
    "method": f"how to paint: {', '.join(api.METHODS)} (default {api.DEFAULT_METHOD})",
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
}


@dataclass(frozen=True)
class Fields:
    """What a user asked for, as plain values (images and masks as tensors, models by name or path)."""

    method: str = api.DEFAULT_METHOD
    styles: Sequence[torch.Tensor] = ()
    models: Sequence[ModelSpec] = ()
    style_weights: Sequence[float] = ()
    masks: Sequence[torch.Tensor] = ()
    strength: float | None = None
    size: int = DEFAULT_SIZE
    tile: str | int = "auto"
    color: str = "none"
    color_when: str = "after"
    steps: int = DEFAULT_STEPS
    seed: int = 0
    style_size: int | None = None
    feather: float = 0.0
    watermark: bool = True


def tile_label(value: str | int | None) -> str | int:
    """The tile as every door records it: ``auto``, ``off`` or the side in pixels."""
    side = tile_side(value)
    return "auto" if side is None else "off" if side == 0 else side


def check_method(method: str) -> None:
    if method not in api.METHODS:
        raise RequestError(f"unknown method {method!r}: use one of {', '.join(api.METHODS)}")


def method_model(fields: Fields) -> ModelSpec | None:
    """The model of ``adain`` or ``fast`` (None: the installed default); ``gatys`` takes none."""
    check_method(fields.method)
    if fields.method == "feedforward":
        return None
    if fields.method == "gatys" and fields.models:
        raise RequestError("gatys paints with VGG19 alone and takes no model")
    if len(fields.models) > 1:
        raise RequestError(f"{fields.method} takes one model, got {len(fields.models)}")
    return fields.models[0] if fields.models else None


def method_styles(fields: Fields) -> list[Style]:
    """The styles ``fields`` paint with, by the method's rule, each with its weight."""
    method = fields.method
    check_method(method)
    if method == "feedforward":
        if fields.styles:
            raise RequestError("feedforward paints with trained style models; style images are not used "
                               "(see `brushwork models list`)")
        if not fields.models:
            raise RequestError("feedforward needs a style model (a name or a file; see `brushwork models list`)")
        paints = [{"model": model} for model in fields.models]
    else:
        if not fields.styles:
            raise RequestError(f"{method} needs at least one style image")
        paints = [{"image": image} for image in fields.styles]
    weights = list(fields.style_weights) or [1.0] * len(paints)
    if len(weights) != len(paints):
        raise RequestError(f"{len(weights)} style weights for {len(paints)} styles")
    return [Style(weight=float(weight), **paint) for paint, weight in zip(paints, weights, strict=True)]


def build(content: torch.Tensor, fields: Fields, more_regions: Sequence[Region] = (), **options) -> api.StyleRequest:
    """The core's request for ``content`` ``[B,3,H,W]`` and ``fields``; ``more_regions`` follow the
    fields' own (ComfyUI's region chains); ``options`` are how to run it, not what to paint
    (``device``, ``precision``, ``backend``, ``gatys``, ``loss_network``, ``progress``, ``cancel``, and
    a service's ``watermark_serial``)."""
    model = method_model(fields)
    own = fields.styles or fields.method == "feedforward" or not more_regions
    regions = [*(assign(method_styles(fields), list(fields.masks)) if own else []), *more_regions]
    if fields.size < 0:
        raise RequestError(f"size must be 0 (the input's own) or a number of pixels, got {fields.size}")
    return api.StyleRequest(
        content, regions, method=fields.method, strength=fields.strength, model=model, color=fields.color,
        color_when=fields.color_when, size=fields.size or None, style_size=fields.style_size,
        tile=tile_label(fields.tile), steps=fields.steps, seed=fields.seed, feather=fields.feather,
        watermark=fields.watermark, **options,
    )
