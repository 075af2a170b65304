"""What style goes where: styles with weights, grouped into regions of the content."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import torch

from .errors import RequestError


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
        if any(w < 0 or w != w for w in weights) or sum(weights) <= 0:
            raise RequestError(f"style weights must be >= 0 and not all zero, got {weights}")
        total = sum(weights)
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
