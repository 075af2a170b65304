"""An invisible mark in the pixels that says "made by brushwork", and its detector. NumPy and Pillow
only: no torch.

The mark lives in the luminance at a working scale where the image's longer side is ``WORK_SIDE``
px, so resizing the image does not move it. There it is a tile of ``TILE`` x ``TILE`` px, repeated
over the whole image, of ``CELL`` x ``CELL`` cells. Each cell carries

    a * (SYNC_WEIGHT * sync[c] + DATA_WEIGHT * sign[c] * code[k(c)]),

``sync`` and ``sign`` fixed pseudo-random +-1, ``code`` the +-1 coded bits and ``k(c)`` the one a
cell carries: every coded bit has its share of each tile's cells, scattered. The amplitude ``a`` is
``MARK_RMS`` (PSNR 40.5 dB) where the image is busy and fades on flat areas, where a mark could show.

The payload is two 16-bit words, brushwork's (``MAGIC`` and the version) and a serial; each is
coded into ``CODE_BITS`` bits by a fixed random linear code and decoded by maximum likelihood:
the codeword of all 65 536 that best matches the soft bits read, which corrects far more than a
hard-decision code of the same length.

Detection undoes what an edit does: for each candidate crop factor it resizes the luminance to
the working scale, keeps its fine detail (minus a local median, over the local spread), folds it
onto one tile (a crop only shifts the tile), finds the shift by circular correlation with
``sync``, and reads the words there. A mark is reported when the sync peak stands ``MIN_PEAK_Z``
deviations above the correlation's spread and the first word carries ``MAGIC``.
"""

from __future__ import annotations

import dataclasses
import functools

import numpy as np
from PIL import Image, ImageFilter

from . import __version__

WORK_SIDE = 256
"""The working scale: the mark's layout in pixels of the image resized to this longer side."""
TILE = 64
CELL = 2
CELLS = TILE // CELL
WORD_BITS = 16
CODE_BITS = 36
"""Coded bits per 16-bit word."""
MAGIC = 0xB7
"""The first word's high byte: this is brushwork's mark (layout 1)."""
SYNC_WEIGHT, DATA_WEIGHT = 0.6, 0.8
MARK_RMS = 2.4 / 255
"""The mark's root mean square in 0..1 luminance at most (less on flat areas): PSNR at least
20 log10(1 / MARK_RMS) = 40.5 dB."""
FLAT_SPREAD, FLAT_WEIGHT, FLAT_BOOST = 0.01, 0.4, 1.5
"""Where the local spread of luminance is under ``FLAT_SPREAD``, the mark fades, down to ``FLAT_WEIGHT``;
a flat image's whole mark is then raised, at most ``FLAT_BOOST`` times, towards ``MARK_RMS``."""
SIDES = range(round(0.6 * WORK_SIDE), round(1.05 * WORK_SIDE) + 1)
"""The working sides detection tries, one pixel apart: from crops down to 36 % of the area to a 5 % border."""
MIN_PEAK_Z = 6.0
"""Unmarked images peak at 4.6 (median) to 5.4 (the highest of 98); marked ones, edited, at 6.7 and more
(``bench/watermark.py``)."""
KEY = 20261203
DETAIL_FLOOR = 0.002
"""Added to the local spread, so flat areas do not blow noise up."""


def _layout() -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """``sync`` and ``sign`` (+-1 per cell), each cell's coded bit (``[CELLS, CELLS]``), and the
    code's generator matrix ``[WORD_BITS, CODE_BITS]`` of 0/1."""
    random = np.random.default_rng(KEY)
    sync = random.choice([-1.0, 1.0], (CELLS, CELLS))
    sign = random.choice([-1.0, 1.0], (CELLS, CELLS))
    bit = random.permutation(np.arange(CELLS * CELLS) % (2 * CODE_BITS)).reshape(CELLS, CELLS)
    generator = random.integers(0, 2, (WORD_BITS, CODE_BITS))
    return sync, sign, bit, generator


SYNC, SIGN, BIT, GENERATOR = _layout()


def _codewords(words: np.ndarray) -> np.ndarray:
    """Each word's codeword as +-1, ``[len(words), CODE_BITS]``."""
    bits = (np.asarray(words)[:, None] >> np.arange(WORD_BITS - 1, -1, -1)) & 1
    return (1 - 2 * (bits @ GENERATOR % 2)).astype(np.float32)


@functools.cache
def _codebook() -> np.ndarray:
    """Every word's codeword, ``[2**WORD_BITS, CODE_BITS]`` (row i: word i): for reading a mark only."""
    return _codewords(np.arange(2**WORD_BITS))


def _decode_word(soft: np.ndarray) -> int:
    """The word whose codeword correlates best with ``soft`` (``[CODE_BITS]``, positive: a 0 bit)."""
    return int(np.argmax(_codebook() @ soft.astype(np.float32)))


@dataclasses.dataclass(frozen=True)
class Payload:
    """What the mark says: brushwork's version (major.minor) and an optional 16-bit serial (0: none)."""

    version: tuple[int, int]
    serial: int = 0

    @property
    def version_text(self) -> str:
        return "{}.{}".format(*self.version)

    def describe(self) -> str:
        """``version 0.1``, and ``, serial 7`` when it carries one."""
        return f"version {self.version_text}" + (f", serial {self.serial}" if self.serial else "")

    def words(self) -> tuple[int, int]:
        major, minor = self.version
        if not (0 <= major < 16 and 0 <= minor < 16):
            raise ValueError(f"version {major}.{minor} does not fit the mark (each part under 16)")
        if not 0 <= self.serial < 2**WORD_BITS:
            raise ValueError(f"serial {self.serial} does not fit the mark ({WORD_BITS} bits)")
        return MAGIC << 8 | major << 4 | minor, self.serial

    def code(self) -> np.ndarray:
        """The coded bits as +-1, ``[2 * CODE_BITS]``."""
        return _codewords(np.array(self.words())).reshape(-1).astype(np.float64)

    @classmethod
    def decode(cls, soft: np.ndarray) -> Payload | None:
        """The payload read from soft bits ``[2 * CODE_BITS]``, or None when it is not brushwork's."""
        head, serial = (_decode_word(part) for part in np.split(soft, 2))
        if head >> 8 != MAGIC:
            return None
        return cls((head >> 4 & 15, head & 15), serial)


def brushwork_payload(serial: int = 0) -> Payload:
    """This brushwork's mark: its version, and ``serial`` (the service's account number, or 0)."""
    major, minor = (int(part) for part in __version__.split(".")[:2])
    return Payload((major, minor), serial)


@dataclasses.dataclass(frozen=True)
class Detection:
    """A mark found: what it says, how far the sync peak stands out, and the side of the image
    relative to the marked one (a crop's factor)."""

    payload: Payload
    peak_z: float
    relative_side: float


def tile(payload: Payload) -> np.ndarray:
    """The mark's tile ``[TILE, TILE]`` at unit amplitude, before the texture weighting."""
    cells = SYNC_WEIGHT * SYNC + DATA_WEIGHT * SIGN * payload.code()[BIT]
    return np.kron(cells, np.ones((CELL, CELL), np.float32)).astype(np.float32)


def luminance(planes: np.ndarray) -> np.ndarray:
    """Rec. 601 luma ``[h, w]`` of RGB planes ``[3, h, w]``."""
    red, green, blue = planes
    return 0.299 * red + 0.587 * green + 0.114 * blue


def _box_mean(image: np.ndarray, radius: int) -> np.ndarray:
    """The mean over a ``(2 radius + 1)^2`` box, edges repeated."""
    size = 2 * radius + 1
    padded = np.pad(image, radius + 1, mode="edge").cumsum(0).cumsum(1)
    box = padded[size:, size:] - padded[:-size, size:] - padded[size:, :-size] + padded[:-size, :-size]
    return box[: image.shape[0], : image.shape[1]] / size**2


def _resize(image: np.ndarray, height: int, width: int) -> np.ndarray:
    """``image`` resized to ``height x width`` by Pillow (box filter down, bilinear up)."""
    resampling = Image.Resampling.BOX if height < image.shape[0] else Image.Resampling.BILINEAR
    return np.asarray(Image.fromarray(image.astype(np.float32, copy=False), "F").resize((width, height), resampling))


def _periodic(tile: np.ndarray, height: int, width: int, scale: float) -> np.ndarray:
    """``tile`` repeated and sampled (bilinear) onto ``height x width`` pixels, ``scale`` tile pixels
    per pixel."""

    def axis(length: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        position = (np.arange(length) + 0.5) * scale - 0.5
        start = np.floor(position)
        first = start.astype(int)
        return first % TILE, (first + 1) % TILE, (position - start).astype(np.float32)

    rows, next_rows, row_weight = axis(height)
    columns, next_columns, column_weight = axis(width)
    across = tile[rows] * (1 - row_weight[:, None]) + tile[next_rows] * row_weight[:, None]
    return across[:, columns] * (1 - column_weight) + across[:, next_columns] * column_weight


def _weight(grey: np.ndarray) -> np.ndarray:
    """The mark's strength around each pixel: full where the image is busy, down to ``FLAT_WEIGHT``
    where it is flat (local spread under ``FLAT_SPREAD``), which is where a mark could show."""
    detail = grey - _box_mean(grey, CELL)
    spread = np.sqrt(np.maximum(_box_mean(detail**2, 2 * CELL), 0))
    return np.clip(spread / FLAT_SPREAD, FLAT_WEIGHT, 1.0)


def _rms(values: np.ndarray) -> float:
    return max(float(np.sqrt(np.mean(np.square(values, dtype=np.float64)))), 1e-12)


def embed(planes: np.ndarray, payload: Payload) -> np.ndarray:
    """RGB ``planes`` ``[3, h, w]`` 0..1 (float) with the mark added to their luminance, clipped to 0..1.

    The mark is made at most ``2 WORK_SIDE`` px long (it is smooth at that scale) and enlarged."""
    height, width = planes.shape[1:]
    scale = min(1.0, 2 * WORK_SIDE / max(height, width))
    rows, columns = max(1, round(height * scale)), max(1, round(width * scale))
    step = max(1, int(1 / (2 * scale)))  # every step-th pixel is plenty to measure the texture from
    grey = _resize(luminance(planes[:, ::step, ::step]), rows, columns)
    pattern = _periodic(tile(payload), rows, columns, WORK_SIDE / max(rows, columns))
    small = pattern * _weight(grey)
    small *= min(MARK_RMS / _rms(small), FLAT_BOOST * MARK_RMS / _rms(pattern))
    marked = planes + _resize(small, height, width).astype(planes.dtype, copy=False)
    return np.clip(marked, 0, 1, out=marked)


def _detail(image: np.ndarray) -> np.ndarray:
    """What a local median does not predict, over its local spread: the mark, whitened."""
    median = np.asarray(Image.fromarray(image.astype(np.float32), "F").filter(ImageFilter.MedianFilter(3)))
    residual = image - median
    return residual / (np.sqrt(np.maximum(_box_mean(residual**2, CELL), 0)) + DETAIL_FLOOR)


def _folded_detail(grey: np.ndarray, side: int) -> np.ndarray:
    """The fine detail of ``grey`` resized to longer side ``side``, summed onto one tile."""
    height, width = grey.shape
    scale = side / max(height, width)
    detail = _detail(_resize(grey, max(1, round(height * scale)), max(1, round(width * scale))))
    rows, columns = -(-detail.shape[0] // TILE) * TILE, -(-detail.shape[1] // TILE) * TILE
    padded = np.zeros((rows, columns))
    padded[: detail.shape[0], : detail.shape[1]] = detail
    return padded.reshape(rows // TILE, TILE, columns // TILE, TILE).sum(axis=(0, 2))


SYNC_SPECTRUM = np.conj(np.fft.fft2(np.kron(SYNC, np.ones((CELL, CELL)))))


def detect(grey: np.ndarray) -> Detection | None:
    """brushwork's mark in a luminance ``[h, w]`` (0..1), or None."""
    grey = np.asarray(grey, np.float32)
    height, width = grey.shape
    if max(height, width) > 2 * WORK_SIDE:  # one resize of the whole image; each candidate starts here
        scale = 2 * WORK_SIDE / max(height, width)
        grey = _resize(grey, round(height * scale), round(width * scale))
    best = None
    for side in SIDES:
        folded = _folded_detail(grey, side)
        correlation = np.real(np.fft.ifft2(np.fft.fft2(folded) * SYNC_SPECTRUM))
        spread = correlation.std()
        if spread == 0:
            continue
        peak = np.unravel_index(np.argmax(correlation), correlation.shape)
        z = (correlation[peak] - correlation.mean()) / spread
        if best is None or z > best[0]:
            best = (z, side, folded, peak)
    if best is None or best[0] < MIN_PEAK_Z:
        return None
    z, side, folded, (row, column) = best
    aligned = np.roll(folded, (-row, -column), axis=(0, 1))
    cells = aligned.reshape(CELLS, CELL, CELLS, CELL).sum(axis=(1, 3))
    soft = np.bincount(BIT.ravel(), weights=(SIGN * cells).ravel(), minlength=2 * CODE_BITS)
    payload = Payload.decode(soft)
    return None if payload is None else Detection(payload, float(z), side / WORK_SIDE)
