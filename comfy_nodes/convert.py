"""ComfyUI's tensor layouts <-> brushwork's.

ComfyUI: IMAGE ``[B,H,W,C]`` float 0..1, MASK ``[B,H,W]`` (or ``[H,W]``). brushwork: images
``[B,3,H,W]``, masks ``[1,1,H,W]``.
"""

from __future__ import annotations

import logging

import torch

from plugin_core.errors import ImageError, MaskError
from plugin_core.masks import resize_mask

LOG = logging.getLogger("brushwork")


def image_in(image: torch.Tensor, label: str) -> torch.Tensor:
    """IMAGE -> ``[B,3,H,W]`` float32 (grey is repeated, alpha dropped)."""
    if not isinstance(image, torch.Tensor) or image.dim() != 4:
        shape = tuple(image.shape) if isinstance(image, torch.Tensor) else type(image).__name__
        raise ImageError(f"{label} must be a ComfyUI IMAGE [B,H,W,C], got {shape}")
    channels = image.shape[-1]
    if channels == 1:
        image = image.expand(-1, -1, -1, 3)
    elif channels == 4:
        image = image[..., :3]
    elif channels != 3:
        raise ImageError(f"{label} has {channels} channels; brushwork takes grey, RGB or RGBA images")
    return image.float().movedim(-1, 1).contiguous()


def image_out(image: torch.Tensor, device: torch.device) -> torch.Tensor:
    """``[B,3,H,W]`` -> IMAGE on ``device``."""
    return image.movedim(1, -1).float().contiguous().to(device)


def masks_in(mask: torch.Tensor | None, size: tuple[int, int], label: str) -> torch.Tensor | None:
    """MASK -> ``[M,1,H,W]`` at the image's ``size`` (M = 1, or one per frame); None when absent.

    An all-zero mask counts as no mask, with a warning: ComfyUI's LoadImage gives a 64x64 zero mask
    for images without alpha.
    """
    if mask is None:
        return None
    if mask.dim() == 2:
        mask = mask[None]
    if mask.dim() == 4 and mask.shape[1] == 1:
        mask = mask[:, 0]
    if mask.dim() != 3:
        raise MaskError(f"{label} must be a ComfyUI MASK [B,H,W], got {tuple(mask.shape)}")
    if float(mask.max()) <= 0:
        LOG.warning("brushwork: %s is all zero (an image without alpha gives one); it is ignored", label)
        return None
    return resize_mask(mask[:, None].float().clamp(0, 1), size)


def frame_mask(masks: torch.Tensor | None, frame: int) -> torch.Tensor | None:
    """The mask of ``frame`` (a single mask serves every frame)."""
    return None if masks is None else masks[min(frame, masks.shape[0] - 1)][None]
