"""What people do to an image after it leaves brushwork: re-save, resize, crop, adjust levels.

Each edit takes and returns ``[h, w, 3]`` uint8 pixels. ``tests/test_watermark.py`` holds the mark
to them on a shipped model's output; ``bench/watermark.py`` counts how often it survives them.
"""

from __future__ import annotations

import io
from collections.abc import Callable

import numpy as np
from PIL import Image

JPEG_QUALITY = 70
WEBP_QUALITY = 80
CROP_AREA = 0.8
CHANGE = 0.1


def encode(pixels: np.ndarray, fmt: str, **options) -> np.ndarray:
    """``pixels`` through a file of Pillow format ``fmt`` (no metadata) and back."""
    buffer = io.BytesIO()
    Image.fromarray(pixels).save(buffer, fmt, **options)
    return np.asarray(Image.open(io.BytesIO(buffer.getvalue())).convert("RGB"))


def resized(pixels: np.ndarray, factor: float) -> np.ndarray:
    height, width = pixels.shape[:2]
    size = (round(width * factor), round(height * factor))
    return np.asarray(Image.fromarray(pixels).resize(size, Image.Resampling.LANCZOS))


def cropped(pixels: np.ndarray, corner: bool) -> np.ndarray:
    """``CROP_AREA`` of the area, the aspect kept, from the top-left corner or the centre."""
    height, width = pixels.shape[:2]
    side = CROP_AREA**0.5
    rows, columns = round(height * side), round(width * side)
    top, left = (0, 0) if corner else ((height - rows) // 2, (width - columns) // 2)
    return pixels[top : top + rows, left : left + columns]


def levels(pixels: np.ndarray, gain: float, around_mean: bool) -> np.ndarray:
    """Brightness (scaled from black) or contrast (scaled around the mean) changed by ``gain``."""
    values = pixels.astype(np.float32)
    centre = values.mean() if around_mean else 0.0
    return np.clip((values - centre) * gain + centre, 0, 255).round().astype(np.uint8)


EDITS: dict[str, Callable[[np.ndarray], np.ndarray]] = {
    "PNG re-save": lambda p: encode(p, "PNG"),
    f"JPEG {JPEG_QUALITY}": lambda p: encode(p, "JPEG", quality=JPEG_QUALITY),
    f"WebP {WEBP_QUALITY}": lambda p: encode(p, "WEBP", quality=WEBP_QUALITY),
    "half size": lambda p: resized(p, 0.5),
    "crop 80 %, centre": lambda p: cropped(p, corner=False),
    "crop 80 %, corner": lambda p: cropped(p, corner=True),
    "brightness +10 %": lambda p: levels(p, 1 + CHANGE, around_mean=False),
    "brightness -10 %": lambda p: levels(p, 1 - CHANGE, around_mean=False),
    "contrast +10 %": lambda p: levels(p, 1 + CHANGE, around_mean=True),
    "contrast -10 %": lambda p: levels(p, 1 - CHANGE, around_mean=True),
}
"""The edits the mark is held to."""
HARDER = {f"half size, then JPEG {JPEG_QUALITY}": lambda p: encode(resized(p, 0.5), "JPEG", quality=JPEG_QUALITY)}
"""Edits measured but not promised."""
