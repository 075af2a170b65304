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
* ``strength`` None takes the method's default (:data:`controls.DEFAULT_STRENGTH`);
* ``size``: the long side of the working and output image, :data:`controls.DEFAULT_SIZE` unless given,
  0 for the input's own;
* ``tile``: ``auto`` (tiles when free memory calls for it; also 0, as the numeric fields of ComfyUI
  and GIMP have always said it), ``off`` (never), or a tile side in pixels;
* ``steps``: the Gram method's steps over all scales, :data:`controls.DEFAULT_STEPS` unless given;
* ``watermark``: brushwork's invisible mark on the result, on unless a door turns it off (the REST
  service never does).

The names, choices, defaults and help of these fields live in :mod:`plugin_core.controls`, so a
tooltip and a ``--help`` line say the same thing.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import torch

from . import api
from .controls import DEFAULT_METHOD, DEFAULT_SIZE, DEFAULT_STEPS, check_method, tile_label
from .errors import RequestError
from .loaders import LoadedModel
from .regions import Region, Style, assign

ModelSpec = str | Path | LoadedModel


@dataclass(frozen=True)
class Fields:
    """What a user asked for, as plain values (images and masks as tensors, models by name or path)."""

    method: str = DEFAULT_METHOD
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
