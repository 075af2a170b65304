"""Large images in overlapping tiles, without seams.

A one-pass method first runs on a thumbnail (long side = the tile side) while
:mod:`.statistics` records every image-wide statistic (instance norms, AdaIN's content mean and
std, style codes); each tile then runs with those statistics replayed, so all tiles normalise
alike (thumbnail instance normalisation, Chen et al. 2021). Tiles overlap by ``overlap`` pixels
and are blended with weights that fall linearly to zero towards a tile's inner edges,

    w(d) = clamp((d − o/4) / (o/2), 0, 1)    (d: distance from an inner edge, o: the overlap),

so the outer quarter of each overlap, where a tile lacks context, is dropped and neighbours'
weights sum to one. Tile origins are multiples of ``ALIGN``, so every tile sees the networks'
strided grids in the same phase as the whole image would, and the last tile of a row or column
ends where the image ends, so image borders are padded as they would be untiled.

Whether to tile is decided from the memory free on the device (:func:`plan_tile`).
"""

from __future__ import annotations

import math
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import torch

from .controls import MIN_TILE
from .image import fit_long_side, resize
from .masks import resize_mask
from .regions import Region
from .statistics import recording, replaying

ALIGN = 32
"""Tile origins, tile sides and overlaps are multiples of this (a multiple of every network's
stride); only the last tile of a row or column may be shorter."""
OVERLAP = MIN_TILE // 2
"""Neighbouring tiles share this many pixels; a tile holds at least two overlaps."""
MAX_TILE = 1024
"""Automatic tiles are at most this long: larger ones save little overlap and cost memory."""
BYTES_PER_PIXEL = {"adain": 2200, "fast": 200, "feedforward": 750, "gatys": 4000}
"""Peak working memory per pixel of the working image in float32, measured on the CPU
(``bench/large.py``; AdaIN: brushwork-adain, whose decoder with skips needs 2 050 to 2 190 between
512 and 1536 pixels square, against 850 for pytorch-AdaIN's relu4_1-only decoder; Gram: 2 steps
measured, plus 1200 for L-BFGS's history of 50 steps). Used for every precision: bfloat16 saves
less than a fifth, as outputs and statistics stay float32."""
MEMORY_SHARE = 0.5
"""The share of the free memory a run may plan to use..."""
MEMORY_CAP = 2 << 30
"""...and on the CPU never more than this, however large the machine: designers run other
programs alongside (a GPU's memory is the run's own, or managed by its host, as in ComfyUI)."""
FALLBACK_MEMORY = 4 << 30
"""Assumed free memory where the system does not tell."""


@dataclass(frozen=True)
class Box:
    """A tile: rows ``top:top+height`` and columns ``left:left+width``."""

    top: int
    left: int
    height: int
    width: int

    def crop(self, image: torch.Tensor) -> torch.Tensor:
        return image[..., self.top : self.top + self.height, self.left : self.left + self.width]


def starts(length: int, tile: int, overlap: int) -> list[int]:
    """Tile origins along one side, ``tile − overlap`` apart, until a tile reaches the end."""
    origins = [0]
    while origins[-1] + tile < length:
        origins.append(origins[-1] + tile - overlap)
    return origins


def ramp(length: int, start: int, size: int, overlap: int) -> torch.Tensor:
    """Blending weights ``[size]`` of a tile at ``start``: 1 inside, falling towards inner edges."""
    distance = torch.arange(size, dtype=torch.float32) + 0.5
    weight = torch.ones(size)
    if start > 0:
        weight = torch.minimum(weight, ((distance - overlap / 4) / (overlap / 2)).clamp(0, 1))
    if start + size < length:
        weight = torch.minimum(weight, ((size - distance - overlap / 4) / (overlap / 2)).clamp(0, 1))
    return weight


def boxes(height: int, width: int, tile: int, overlap: int = OVERLAP) -> list[Box]:
    """The tiles covering ``height x width``, row by row; the last of a row or column may be shorter."""
    return [
        Box(top, left, min(tile, height - top), min(tile, width - left))
        for top in starts(height, tile, overlap)
        for left in starts(width, tile, overlap)
    ]


def blend(
    run: Callable[[Box], torch.Tensor],
    shape: torch.Size,
    tile: int,
    overlap: int = OVERLAP,
    after_tile: Callable[[int, int], None] | None = None,
) -> torch.Tensor:
    """``Σ w_t run(t) / Σ w_t`` over the tiles of an image of ``shape`` ``[B,C,H,W]``."""
    height, width = shape[-2:]
    tiles = boxes(height, width, tile, overlap)
    total = torch.zeros(shape)
    weights = torch.zeros(1, 1, height, width)
    for done, box in enumerate(tiles, start=1):
        weight = ramp(height, box.top, box.height, overlap)[:, None] * ramp(width, box.left, box.width, overlap)
        box.crop(total).add_(run(box).float().cpu() * weight)
        box.crop(weights).add_(weight)
        if after_tile is not None:
            after_tile(done, len(tiles))
    return total.div_(weights)


def count(height: int, width: int, tile: int, overlap: int = OVERLAP) -> int:
    """How many tiles an image of ``height x width`` takes."""
    return len(starts(height, tile, overlap)) * len(starts(width, tile, overlap))


def scale_regions(regions: Sequence[Region], size: tuple[int, int]) -> list[Region]:
    """The regions with their masks resized to ``size``."""
    return [Region(r.styles, None if r.mask is None else resize_mask(r.mask, size)) for r in regions]


def tiled(
    run: Callable[[torch.Tensor, list[Region], Box], torch.Tensor],
    content: torch.Tensor,
    regions: Sequence[Region],
    tile: int,
    overlap: int = OVERLAP,
    after_tile: Callable[[int, int], None] | None = None,
) -> torch.Tensor:
    """``run(content_tile, regions_tile, box)`` over the tiles of ``content``, blended."""

    def one_tile(box: Box) -> torch.Tensor:
        parts = [Region(r.styles, None if r.mask is None else box.crop(r.mask)) for r in regions]
        return run(box.crop(content), parts, box)

    return blend(one_tile, content.shape, tile, overlap, after_tile).to(content.device)


def stylize_tiled(
    run: Callable[[torch.Tensor, Sequence[Region]], torch.Tensor],
    content: torch.Tensor,
    regions: Sequence[Region],
    tile: int,
    overlap: int = OVERLAP,
    after_tile: Callable[[int, int], None] | None = None,
    thumbnail: int | None = None,
) -> torch.Tensor:
    """``run(content, regions)``, a one-pass method, over tiles of ``content`` with the statistics
    of a thumbnail whose long side is ``thumbnail`` (default: ``tile``)."""
    with recording() as statistics:
        size = fit_long_side(*content.shape[-2:], thumbnail or tile)
        run(resize(content, size), scale_regions(regions, size))

    def one_tile(image: torch.Tensor, parts: list[Region], box: Box) -> torch.Tensor:
        with replaying(statistics):
            return run(image, parts)

    return tiled(one_tile, content, regions, tile, overlap, after_tile)


def free_memory(device: torch.device) -> int:
    """Bytes free on ``device``: CUDA's own count; on the CPU the kernel's MemAvailable (Linux), else a guess."""
    if device.type == "cuda":
        return torch.cuda.mem_get_info(device)[0]
    meminfo = Path("/proc/meminfo")
    if sys.platform.startswith("linux") and meminfo.is_file():
        for line in meminfo.read_text().splitlines():
            if line.startswith("MemAvailable:"):
                return int(line.split()[1]) * 1024
    return FALLBACK_MEMORY


def plan_tile(method: str, size: tuple[int, int], tile: int | None, device: torch.device) -> int | None:
    """The tile side for a working image of ``size``, or None to run it whole.

    ``tile`` (as :func:`tile_side` reads a request's): None decides from the free memory (tiles when
    the image would take more than ``MEMORY_SHARE`` of it, or on the CPU ``MEMORY_CAP``; tiles at most
    ``MAX_TILE`` long); 0 never tiles; a number is the tile side (rounded down to ``ALIGN``).
    """
    if tile == 0:
        return None
    if tile is not None:
        side = tile // ALIGN * ALIGN
        return side if max(size) > side else None
    usable = free_memory(device) * MEMORY_SHARE
    if device.type == "cpu":
        usable = min(usable, MEMORY_CAP)
    budget = usable / BYTES_PER_PIXEL[method]
    if size[0] * size[1] <= budget:
        return None
    return max(MIN_TILE, min(MAX_TILE, math.isqrt(int(budget)) // ALIGN * ALIGN))
