"""What style goes where: styles with weights, grouped into regions of the content."""

from __future__ import annotations

import math
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import torch

from .errors import RequestError
from .masks import check_not_empty, feather, resize_mask


@dataclass(frozen=True)
class Style:
    """What paints, and its weight among the styles of its region.

    ``image``: a style image ``[1,3,H,W]`` in 0..1 (Gram optimisation, AdaIN); ``model``: a
    feed-forward style, by name, by path, or as a loaded model (feed-forward).
    """

    image: torch.Tensor | None = None
    weight: float = 1.0
    model: object = None


@dataclass(frozen=True)
class Region:
    """Styles applied where ``mask`` (``[1,1,H,W]`` in 0..1, content-sized) is on; None: everywhere."""

    styles: Sequence[Style]
    mask: torch.Tensor | None = None

    def normalised_weights(self) -> list[float]:
        """The style weights scaled to sum to one."""
        weights = [float(style.weight) for style in self.styles]
        if not weights:
            raise RequestError("a region needs at least one style image")
        total = sum(weights)
        if any(not w >= 0 for w in weights) or not 0 < total < math.inf:
            raise RequestError(f"style weights must be >= 0, not all zero, and sum to a finite number, got {weights}")
        return [w / total for w in weights]


def assign(styles: Sequence[Style], masks: Sequence[torch.Tensor]) -> list[Region]:
    """Regions from styles and masks: no mask, all styles everywhere; one mask, all styles there;
    one mask per style, each style its own region."""
    if not masks:
        return [Region(styles)]
    if len(masks) == 1:
        return [Region(styles, masks[0])]
    if len(masks) == len(styles):
        return [Region([style], mask) for style, mask in zip(styles, masks, strict=True)]
    raise RequestError(f"{len(masks)} masks for {len(styles)} styles: give one mask, or one per style")


def working_mask(mask: torch.Tensor, name: str, content_size: tuple[int, int], size: tuple[int, int],
                 radius: float, device: torch.device) -> torch.Tensor:
    """A region's mask checked, resized to the working ``size`` (with a warning when its aspect
    differs from the content's), feathered by ``radius`` pixels, and not empty."""
    if mask.dim() == 2:
        mask = mask[None, None]
    if mask.dim() != 4 or mask.shape[:2] != (1, 1):
        raise RequestError(f"{name} must be [1,1,H,W] (or [H,W]), got {tuple(mask.shape)}")
    if not torch.isfinite(mask).all():
        raise RequestError(f"{name} contains NaN or infinite values")
    (content_h, content_w), (mask_h, mask_w) = content_size, mask.shape[-2:]
    if abs(mask_h / mask_w - content_h / content_w) > 0.01:
        warnings.warn(f"{name} is {mask_w}x{mask_h}, the content {content_w}x{content_h}: stretched to fit",
                      stacklevel=4)
    mask = feather(resize_mask(mask.float().clamp(0, 1).to(device), size), radius)
    check_not_empty(mask, name)
    return mask


def working_regions(regions: Sequence[Region], content_size: tuple[int, int], size: tuple[int, int],
                    radius: float, device: torch.device,
                    network: Callable[[object], object] | None = None) -> list[Region]:
    """The regions as a method paints them: masks by :func:`working_mask`, style images on the
    device, and with ``network`` each style's ``model`` replaced by its loaded network (feed-forward)."""
    prepared = []
    for r, region in enumerate(regions):
        mask = None if region.mask is None else working_mask(
            region.mask, f"mask of region {r + 1}", content_size, size, radius, device)
        styles = [Style(None if s.image is None else s.image.to(device), s.weight,
                        s.model if network is None else network(s.model)) for s in region.styles]
        prepared.append(Region(styles, mask))
    return prepared
