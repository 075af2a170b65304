"""Gram optimisation of a large image in tiles, keeping the untiled run's pyramid and steps.

The scales that fit a tile run on the whole image; each larger scale is refined tile by tile from
the one below, and every tile's style loss aims at the Gram matrices the whole image has at that
scale (:func:`.methods.gatys.style_targets` reads the styles at that scale, in tiles if need be).
Progress counts every step of every tile, as one job.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable

import torch

from . import tiling
from .image import fit_long_side, resize
from .methods import gatys
from .networks.vgg import VGG19
from .progress import Progress
from .regions import Region


def offset(
    progress: Callable[[Progress], None] | None, before: int, total: int
) -> Callable[[Progress], None] | None:
    """A callback reporting a part's steps as steps ``before + step`` of ``total`` of the whole."""
    if progress is None:
        return None
    return lambda report: progress(dataclasses.replace(report, step=before + report.step, total=total))


def stylize(
    vgg: VGG19,
    content: torch.Tensor,
    regions: list[Region],
    settings: gatys.GatysSettings,
    tile: int,
    progress: Callable[[Progress], None] | None,
    cancel: Callable[[], bool] | None,
) -> torch.Tensor:
    """The untiled run's pyramid and steps: the scales that fit a tile on the whole image, each
    larger one refined tile by tile from the one below, every tile's style loss aiming at the
    Grams the whole image has at that scale (the styles read at its scale, in tiles if need be)."""
    full = tuple(content.shape[-2:])
    sizes = gatys.scale_sizes(*full, settings.scales, settings.min_side)
    if max(sizes[0]) > tile:
        sizes.insert(0, fit_long_side(*full, tile))
    counts = gatys.steps_per_scale(max(settings.steps, len(sizes)), len(sizes))
    whole = sum(max(size) <= tile for size in sizes)
    total = sum(counts[:whole]) + sum(tiling.count(*size, tile) * n for size, n in zip(sizes, counts, strict=True)
                                      if max(size) > tile)
    done = sum(counts[:whole])

    def scaled(size: tuple[int, int]) -> gatys.GatysSettings:
        """The settings with the style size a run whose finest scale is ``size`` takes."""
        shrink = max(size) / max(full)
        return dataclasses.replace(settings, style_size=None if settings.style_size is None
                                   else round(settings.style_size * shrink))

    image = gatys.stylize(
        vgg, resize(content, sizes[whole - 1]), tiling.scale_regions(regions, sizes[whole - 1]),
        dataclasses.replace(scaled(sizes[whole - 1]), steps=done, scales=whole), offset(progress, 0, total), cancel,
    )
    for size, count in zip(sizes[whole:], counts[whole:], strict=True):
        start = resize(image, size)
        targets = gatys.style_targets(vgg, regions, size, settings, max(size) / max(full))

        def one_tile(part: torch.Tensor, parts: list[Region], box: tiling.Box) -> torch.Tensor:
            nonlocal done
            fine = dataclasses.replace(settings, steps=count, scales=1, init=box.crop(start))
            report = offset(progress, done, total)
            done += count
            return gatys.stylize(vgg, part, parts, fine, report, cancel, targets)

        image = tiling.tiled(one_tile, resize(content, size), tiling.scale_regions(regions, size), tile)
    return image
