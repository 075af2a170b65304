"""Style images made in code: procedural textures, patterns, strokes and colour fields.

Users bring posters, patterns, photos and paintings; a style set of one game's paintings covers
few of their colours and textures. Each family below draws one kind of picture from a palette
whose base hue is uniform on the colour wheel, so a few hundred images cover every hue:

* ``stripes``  bands of a warped sine, ``c(x) = palette[⌊k · (½ + ½ sin(ω·x + a·n(x)))⌋]``
* ``marble``   fractal value noise ``n = Σ_o 2^-o · noise(2^o f x)`` through a smooth palette ramp
* ``contours`` the level lines of fractal noise over its banded colours (a topographic map)
* ``strokes``  thousands of short, thick brush strokes along a noise flow field
* ``fields``   soft-edged rectangles of flat colour (colour-field painting)
* ``dots``     a jittered grid of dots sized by noise (pointillism, halftone)
* ``cells``    a Voronoi mosaic with dark leading (stained glass)

Every image is a deterministic function of ``(family, seed, size)``: the same call gives the same
pixels on every machine (NumPy's PCG64 and Pillow's drawing). Needs NumPy and Pillow only.
"""

from __future__ import annotations

import colorsys
from collections.abc import Callable

import numpy as np
from PIL import Image, ImageDraw, ImageFilter

from ..errors import RequestError

SCHEMES = {"analogous": (0.0, 1 / 12, -1 / 12), "complementary": (0.0, 0.5, 1 / 24),
           "triadic": (0.0, 1 / 3, 2 / 3), "split": (0.0, 5 / 12, 7 / 12)}
"""Hue offsets (turns of the colour wheel) of each palette scheme around its base hue."""


def palette(rng: np.random.Generator, colours: int = 5) -> np.ndarray:
    """``colours`` RGB colours in 0..1: a base hue uniform on the wheel, a scheme's offsets, and
    random saturation and value (one dark and one light colour among them for contrast)."""
    base = rng.random()
    offsets = SCHEMES[list(SCHEMES)[rng.integers(len(SCHEMES))]]
    out = []
    for index in range(colours):
        hue = (base + offsets[index % len(offsets)] + rng.normal(0, 0.02)) % 1.0
        saturation = rng.uniform(0.35, 1.0)
        value = rng.uniform(0.15, 0.35) if index == 1 else rng.uniform(0.85, 1.0) if index == 2 \
            else rng.uniform(0.4, 1.0)
        out.append(colorsys.hsv_to_rgb(hue, saturation, value))
    return np.array(out, dtype=np.float32)


def value_noise(rng: np.random.Generator, size: int, frequency: float, octaves: int = 4) -> np.ndarray:
    """Fractal value noise in 0..1, ``[size,size]``: random lattices upsampled bicubically, octave
    ``o`` at ``frequency · 2^o`` cells across with amplitude ``2^-o``."""
    total = np.zeros((size, size), np.float32)
    for octave in range(octaves):
        cells = max(2, int(round(frequency * 2**octave)))
        lattice = Image.fromarray(rng.random((cells, cells), dtype=np.float32), mode="F")
        total += np.asarray(lattice.resize((size, size), Image.BICUBIC)) * 0.5**octave
    total -= total.min()
    return total / max(float(total.max()), 1e-6)


def _ramp(colours: np.ndarray, t: np.ndarray) -> np.ndarray:
    """Colours ``[H,W,3]`` read off a linear ramp through ``colours`` at ``t`` in 0..1."""
    position = np.clip(t, 0, 1) * (len(colours) - 1)
    low = np.floor(position).astype(int).clip(0, len(colours) - 2)
    fraction = (position - low)[..., None]
    return colours[low] * (1 - fraction) + colours[low + 1] * fraction


def _image(pixels: np.ndarray) -> Image.Image:
    return Image.fromarray((np.clip(pixels, 0, 1) * 255).round().astype(np.uint8), "RGB")


def stripes(rng: np.random.Generator, size: int) -> Image.Image:
    colours = palette(rng, int(rng.integers(2, 6)))
    y, x = np.mgrid[0:size, 0:size].astype(np.float32) / size
    angle = rng.uniform(0, np.pi)
    frequency = rng.uniform(4, 30) * 2 * np.pi
    warp = rng.uniform(0, 3) * value_noise(rng, size, rng.uniform(1, 4), 2)
    phase = (np.cos(angle) * x + np.sin(angle) * y) * frequency + warp * 2 * np.pi
    band = np.floor((0.5 + 0.5 * np.sin(phase)) * len(colours) * 0.999).astype(int)
    return _image(colours[band])


def marble(rng: np.random.Generator, size: int) -> Image.Image:
    colours = palette(rng, int(rng.integers(3, 6)))
    noise = value_noise(rng, size, rng.uniform(2, 8), 5)
    veins = 0.5 + 0.5 * np.sin(noise * rng.uniform(6, 20))
    return _image(_ramp(colours, veins))


def contours(rng: np.random.Generator, size: int) -> Image.Image:
    colours = palette(rng, 5)
    noise = value_noise(rng, size, rng.uniform(2, 5), 4)
    levels = int(rng.integers(6, 16))
    banded = np.floor(noise * levels) / levels
    image = _ramp(colours, banded)
    edges = np.abs(np.diff(np.floor(noise * levels), axis=0, prepend=0)) + \
        np.abs(np.diff(np.floor(noise * levels), axis=1, prepend=0))
    line = np.asarray(Image.fromarray((edges > 0).astype(np.uint8) * 255).filter(ImageFilter.MaxFilter(3))) > 0
    image[line] = colours[1]
    return _image(image)


def strokes(rng: np.random.Generator, size: int) -> Image.Image:
    colours = palette(rng, 6)
    canvas = Image.fromarray((colours[int(rng.integers(len(colours)))] * 255).astype(np.uint8)[None, None]
                             .repeat(size, 0).repeat(size, 1), "RGB")
    draw = ImageDraw.Draw(canvas)
    flow = value_noise(rng, size, rng.uniform(1, 4), 3) * 2 * np.pi * rng.uniform(1, 3)
    tone = value_noise(rng, size, rng.uniform(1, 4), 3)
    length, width = rng.uniform(0.02, 0.08) * size, int(max(2, rng.uniform(0.006, 0.025) * size))
    for _ in range(int(rng.integers(1500, 4000))):
        x, y = rng.uniform(0, size - 1, 2)
        angle = flow[int(y), int(x)]
        colour = _ramp(colours, np.array(tone[int(y), int(x)] + rng.normal(0, 0.08)))
        colour = tuple(int(c) for c in (np.clip(colour, 0, 1) * 255))
        dx, dy = np.cos(angle) * length / 2, np.sin(angle) * length / 2
        draw.line([(x - dx, y - dy), (x + dx, y + dy)], fill=colour, width=width)
    return canvas


def fields(rng: np.random.Generator, size: int) -> Image.Image:
    colours = palette(rng, 5)
    canvas = Image.new("RGB", (size, size), tuple(int(c * 255) for c in colours[0]))
    draw = ImageDraw.Draw(canvas)
    for _ in range(int(rng.integers(3, 12))):
        x0, y0 = rng.uniform(-0.1, 0.8, 2) * size
        w, h = rng.uniform(0.15, 0.7, 2) * size
        draw.rectangle([x0, y0, x0 + w, y0 + h], fill=tuple(int(c * 255) for c in colours[rng.integers(5)]))
    blurred = canvas.filter(ImageFilter.GaussianBlur(rng.uniform(0, 0.02) * size))
    grain = (rng.normal(0, rng.uniform(0, 0.04), (size, size, 1))).astype(np.float32)
    return _image(np.asarray(blurred, np.float32) / 255 + grain)


def dots(rng: np.random.Generator, size: int) -> Image.Image:
    colours = palette(rng, 5)
    canvas = Image.new("RGB", (size, size), tuple(int(c * 255) for c in colours[2]))
    draw = ImageDraw.Draw(canvas)
    spacing = rng.uniform(0.015, 0.06) * size
    tone = value_noise(rng, size, rng.uniform(1, 5), 3)
    jitter = rng.uniform(0, 0.5)
    steps = int(size / spacing) + 2
    for row in range(steps):
        for column in range(steps):
            x = (column + (row % 2) * 0.5 + rng.normal(0, jitter)) * spacing
            y = (row + rng.normal(0, jitter)) * spacing
            t = tone[int(np.clip(y, 0, size - 1)), int(np.clip(x, 0, size - 1))]
            radius = spacing * (0.15 + 0.45 * t)
            colour = _ramp(colours[[0, 1, 3, 4]], np.array(t + rng.normal(0, 0.1)))
            draw.ellipse([x - radius, y - radius, x + radius, y + radius],
                         fill=tuple(int(c) for c in np.clip(colour, 0, 1) * 255))
    return canvas


def cells(rng: np.random.Generator, size: int) -> Image.Image:
    colours = palette(rng, 6)
    count = int(rng.integers(30, 300))
    seeds = rng.uniform(0, size, (count, 2)).astype(np.float32)
    y, x = np.mgrid[0:size, 0:size].astype(np.float32)
    nearest = np.full((size, size), np.inf, np.float32)
    second = np.full((size, size), np.inf, np.float32)
    owner = np.zeros((size, size), int)
    for index, (sx, sy) in enumerate(seeds):
        distance = np.hypot(x - sx, y - sy)
        closer = distance < nearest
        second = np.where(closer, nearest, np.minimum(second, distance))
        owner = np.where(closer, index, owner)
        nearest = np.where(closer, distance, nearest)
    fill = colours[rng.integers(len(colours), size=count)] * rng.uniform(0.8, 1.1, (count, 1))
    image = fill[owner]
    image[(second - nearest) < rng.uniform(1.0, 1.0 + 0.012 * size)] = colours[1] * 0.4
    return _image(image)


FAMILIES: dict[str, Callable[[np.random.Generator, int], Image.Image]] = {
    "stripes": stripes, "marble": marble, "contours": contours, "strokes": strokes,
    "fields": fields, "dots": dots, "cells": cells,
}


def generate(family: str, seed: int, size: int = 384) -> Image.Image:
    """The ``seed``-th image of ``family``, ``size`` pixels square (RGB)."""
    if family not in FAMILIES:
        raise RequestError(f"unknown generated style family {family!r}: use one of {', '.join(FAMILIES)}")
    rng = np.random.default_rng([sorted(FAMILIES).index(family), seed])
    return FAMILIES[family](rng, size)
