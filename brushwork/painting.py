"""The Python door: ``brushwork.stylize(photo, style=...)`` with paths, Pillow images, NumPy arrays or tensors.

A thin door like the others: it turns what a script holds into the core's fields
(:class:`plugin_core.requests.Fields`) and paints through :func:`plugin_core.api.stylize`.
Hosts that already hold tensors call :mod:`plugin_core.api` directly.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Union

import numpy as np
import torch
from PIL import Image

from plugin_core import api
from plugin_core.controls import DEFAULT_SIZE, DEFAULT_STEPS
from plugin_core.errors import ImageError
from plugin_core.image import LoadedImage, load_image, pil_to_tensors, reading_side, resize, tensor_to_pil
from plugin_core.masks import load_mask
from plugin_core.requests import Fields, ModelSpec, build

Picture = Union[str, Path, Image.Image, np.ndarray, torch.Tensor]
"""A path, a Pillow image, a NumPy array ``[H,W]``/``[H,W,C]`` (uint8, or float 0..1) or a tensor
``[3,H,W]``/``[1,3,H,W]`` (float 0..1)."""


def _many(value) -> list:
    if value is None:
        return []
    return list(value) if isinstance(value, (list, tuple)) else [value]


def as_picture(value: Picture, role: str, longest: int | None = None) -> LoadedImage:
    """``value`` as the core's RGB (and alpha) tensors; a file is decoded no smaller than ``longest``
    (:func:`plugin_core.image.open_image`)."""
    if isinstance(value, (str, Path)):
        return load_image(value, role, longest=longest)
    if isinstance(value, Image.Image):
        return pil_to_tensors(value)
    if isinstance(value, np.ndarray):
        pixels = value.astype(np.float32) / 255 if value.dtype == np.uint8 else value.astype(np.float32)
        pixels = pixels[..., None] if pixels.ndim == 2 else pixels
        if pixels.ndim != 3 or pixels.shape[-1] not in (1, 3, 4):
            raise ImageError(f"{role} array must be [H,W], [H,W,3] or [H,W,4], got {value.shape}")
        value = torch.from_numpy(pixels).permute(2, 0, 1)
    if isinstance(value, torch.Tensor):
        image = value[None] if value.dim() == 3 else value
        if image.dim() != 4 or image.shape[1] not in (1, 3, 4):
            raise ImageError(f"{role} tensor must be [3,H,W] or [1,3,H,W], got {tuple(value.shape)}")
        image = image.float()
        alpha = image[:, 3:] if image.shape[1] == 4 else None
        rgb = image[:, :1].expand(-1, 3, -1, -1) if image.shape[1] == 1 else image[:, :3]
        return LoadedImage(rgb.contiguous(), alpha, 32)
    raise ImageError(f"{role} must be a path, a PIL image, a NumPy array or a tensor, not {type(value).__name__}")


def as_mask(value: Picture, size: tuple[int, int]) -> torch.Tensor:
    """A mask ``[1,1,H,W]`` for a content of ``size``: a file's alpha or grey; an image's alpha, else
    its grey level."""
    if isinstance(value, (str, Path)):
        return load_mask(value, size)
    loaded = as_picture(value, "mask")
    grey = loaded.alpha if loaded.alpha is not None else loaded.rgb.mean(1, keepdim=True)
    return grey if tuple(grey.shape[-2:]) == tuple(size) else resize(grey, size).clamp(0, 1)


def request(
    photo: Picture,
    style: Picture | Sequence[Picture] | None = None,
    *,
    method: str = api.DEFAULT_METHOD,
    model: ModelSpec | Sequence[ModelSpec] | None = None,
    strength: float | None = None,
    style_weights: Sequence[float] = (),
    mask: Picture | Sequence[Picture] | None = None,
    size: int = DEFAULT_SIZE,
    tile: str | int = "auto",
    color: str = "none",
    steps: int = DEFAULT_STEPS,
    seed: int = 0,
    watermark: bool = True,
    device: str = "auto",
    progress: Callable[[api.Progress], None] | None = None,
) -> api.StyleRequest:
    """The core's request :func:`stylize` paints: its fields, with the meanings its docstring gives."""
    content = as_picture(photo, "content").rgb
    size_hw = tuple(content.shape[-2:])
    fields = Fields(
        method=method, styles=[as_picture(s, "style", reading_side(size)).rgb for s in _many(style)],
        models=_many(model),
        style_weights=style_weights, masks=[as_mask(m, size_hw) for m in _many(mask)], strength=strength,
        size=size, tile=tile, color=color, steps=steps, seed=seed, watermark=watermark,
    )
    return build(content, fields, device=device, progress=progress)


def stylize(photo: Picture, style: Picture | Sequence[Picture] | None = None, *, as_tensor: bool = False,
            **fields) -> Image.Image | torch.Tensor:
    """Paint ``photo`` in the style of ``style`` and return the painting.

    >>> import brushwork
    >>> brushwork.stylize("photo.jpg", style="painting.jpg").save("painted.png")

    Images (``photo``, ``style``, ``mask``) may be paths, Pillow images, NumPy arrays or tensors.

    * ``method``: ``adain`` (default: one pass, any style), ``fast`` (the quickest arbitrary style),
      ``gatys`` (Gram optimisation: slow, the finest) or ``feedforward`` (a trained style ``model``,
      no style image);
    * ``style``: one or several style images, mixed by ``style_weights``;
    * ``model``: the AdaIN decoder or fast model (default: the installed one), or feed-forward
      style models by name (``brushwork models list``) or file;
    * ``strength``: 0 = the photo, 1 = all style (default: gatys 0.5, the others 1);
    * ``mask``: where the style goes (white = styled): one for all styles, or one per style;
    * ``size``: long side of the result (default 512; 0: the photo's own);
    * ``tile``: ``auto`` (default), ``off`` or a tile side in pixels, for large images;
    * ``color``: ``none``, or keep the photo's colours: ``luminance``, ``histogram``, ``reinhard``, ``linear``;
    * ``steps``, ``seed``: Gram optimisation's steps (default 200) and noise seed;
    * ``watermark``: brushwork's invisible mark on the result (default True; ``brushwork verify``);
    * ``progress``: called with :class:`plugin_core.api.Progress` (a fraction of the job) as it goes;
    * ``device``: ``auto`` (CUDA when present), ``cpu`` or ``cuda``.

    Returns an RGB Pillow image (RGBA when the photo has alpha), or with ``as_tensor`` the tensor
    ``[1,3,H,W]`` in 0..1. Bad input raises :class:`plugin_core.errors.BrushworkError` naming what is wrong.
    """
    loaded = as_picture(photo, "content")
    painted = api.stylize(request(loaded.rgb, style, **fields))
    if as_tensor:
        return painted
    alpha = None if loaded.alpha is None else resize(loaded.alpha, tuple(painted.shape[-2:]))
    return tensor_to_pil(painted, alpha)
