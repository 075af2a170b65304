"""Masks: where a style applies. Tensors ``[B,1,H,W]`` in 0..1, 1 = fully styled."""

from __future__ import annotations

import math
import warnings
from pathlib import Path
from typing import BinaryIO

import numpy as np
import torch
import torch.nn.functional as F

from .errors import MaskError
from .image import describe, open_image


def load_mask(
    source: str | Path | BinaryIO, size: tuple[int, int] | None = None, role: str = "mask",
    max_pixels: int | None = None, longest: int | None = None,
) -> torch.Tensor:
    """Read a mask (a path, or an open binary file named in ``role``): its alpha channel when it
    has one, else its grey level.

    With ``size=(H, W)`` a mask of another size is resized to it, with a warning. ``longest``:
    decode a large one reduced (:func:`plugin_core.image.open_image`), its size then left as read.
    """
    pil = open_image(source, role, max_pixels, longest)
    has_alpha = pil.mode in ("RGBA", "LA", "PA") or "transparency" in pil.info
    grey = pil.convert("RGBA").getchannel("A") if has_alpha else pil.convert("L")
    mask = torch.from_numpy(np.asarray(grey, dtype=np.float32) / 255).view(1, 1, grey.height, grey.width)
    if size is not None and tuple(mask.shape[-2:]) != tuple(size):
        warnings.warn(
            f"{describe(source, role)} is {grey.width}x{grey.height}, the image is {size[1]}x{size[0]}: resized to fit",
            stacklevel=2,
        )
        mask = resize_mask(mask, size)
    return mask


def resize_mask(mask: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
    """Resize to ``size=(H, W)``: area averaging when shrinking (exact coverage), bilinear when growing."""
    if tuple(mask.shape[-2:]) == tuple(size):
        return mask
    shrinking = size[0] <= mask.shape[-2] and size[1] <= mask.shape[-1]
    if shrinking:
        return F.interpolate(mask, size=size, mode="area")
    return F.interpolate(mask, size=size, mode="bilinear", align_corners=False).clamp(0, 1)


def feather(mask: torch.Tensor, radius: float) -> torch.Tensor:
    """Soften edges with a separable Gaussian of standard deviation ``radius / 2`` pixels."""
    if radius <= 0:
        return mask
    sigma = radius / 2
    half = max(1, math.ceil(3 * sigma))
    taps = torch.arange(-half, half + 1, dtype=mask.dtype, device=mask.device)
    kernel = torch.exp(-(taps**2) / (2 * sigma**2))
    kernel = kernel / kernel.sum()
    channels = mask.shape[1]
    out = F.pad(mask, (half, half, half, half), mode="replicate")
    out = F.conv2d(out, kernel.view(1, 1, 1, -1).expand(channels, 1, 1, -1), groups=channels)
    out = F.conv2d(out, kernel.view(1, 1, -1, 1).expand(channels, 1, -1, 1), groups=channels)
    return out.clamp(0, 1)


def check_not_empty(mask: torch.Tensor, name: str) -> None:
    """Refuse a mask that selects nothing (all zero)."""
    if float(mask.max()) <= 0:
        raise MaskError(f"{name} is empty (all zero): it selects no pixel to stylize")


def coverage(masks: list[torch.Tensor]) -> torch.Tensor:
    """Where any of the masks applies: ``1 - prod(1 - m)``."""
    uncovered = torch.ones_like(masks[0])
    for mask in masks:
        uncovered = uncovered * (1 - mask)
    return 1 - uncovered


def composite(content: torch.Tensor, painted: list[tuple[torch.Tensor, torch.Tensor | None]]) -> torch.Tensor:
    """Blend each region's image by its mask: ``Σ m_r y_r / Σ m_r``, the content where no mask is on.

    ``painted``: ``(y_r, m_r)`` pairs, ``y_r`` content-shaped, ``m_r`` ``[1,1,H,W]`` or None (everywhere).
    """
    weighted = torch.zeros_like(content)
    cover = content.new_zeros(content.shape[0], 1, *content.shape[-2:])
    for image, mask in painted:
        mask = torch.ones_like(cover) if mask is None else mask.to(content)
        weighted += mask * image
        cover += mask
    return torch.where(cover > 0, weighted / cover.clamp_min(1e-8), content)
