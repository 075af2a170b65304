"""Paint rows of a manifest: decode, stylize, write atomically, and say how each went.

A :class:`Painter` lives as long as its process (a Ray actor, or the command itself): the networks
stay loaded between rows (:mod:`plugin_core.loaders` keeps them) and style images are read once.
A row that fails (a missing or broken image, an unknown model, a mask of another size) gets its
error and the others go on.
"""

from __future__ import annotations

import time
from functools import lru_cache
from pathlib import Path

import numpy as np
import torch

from plugin_core import api
from plugin_core.errors import BrushworkError
from plugin_core.image import load_image, reading_side, resize, save_image
from plugin_core.masks import load_mask
from plugin_core.requests import Fields, build

from .manifest import blank

STYLE_CACHE = 16


@lru_cache(maxsize=STYLE_CACHE)
def _style_image(path: str, longest: int | None) -> torch.Tensor:
    return load_image(path, "style", longest=longest).rgb


def stale_temporaries(output: Path) -> list[Path]:
    """Unfinished atomic writes of ``output`` left by a killed run (``.NAME.XXXX.SUFFIX`` beside it)."""
    return list(output.parent.glob(f".{output.stem}.*{output.suffix}")) if output.parent.is_dir() else []


def cell_list(value) -> list[str]:
    """A cell holding several values joined by ``;`` (style paths, models, weights)."""
    return [part.strip() for part in str(value or "").split(";") if part.strip()]


class Painter:
    """Paints batches of rows (columns as arrays, Ray Data's numpy format) with ``defaults`` for blank cells:
    ``method``, ``style`` and ``model`` (several joined by ``;``), ``style_weight`` (likewise),
    ``strength``, ``color``, ``size``, ``tile``, ``steps``, ``precision``, ``device``, ``watermark``, and
    ``signing`` (:class:`plugin_core.credentials.Signing`, or None); a table's style column does not apply
    to its feed-forward rows, which paint with their models."""

    def __init__(self, defaults: dict):
        self.defaults = defaults

    def __call__(self, batch: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        results = {"status": [], "seconds": [], "error": []}
        for index in range(len(batch["content"])):
            row = {column: values[index] for column, values in batch.items()}
            start = time.perf_counter()
            try:
                self.paint(row)
                status, error = "done", ""
            except BrushworkError as failure:
                status, error = "failed", str(failure)
            except (OSError, ValueError, RuntimeError) as failure:
                status, error = "failed", f"{type(failure).__name__}: {failure}"
            results["status"].append(status)
            results["seconds"].append(round(time.perf_counter() - start, 3))
            results["error"].append(error)
        return {**batch, **{column: np.array(values) for column, values in results.items()}}

    def _value(self, row: dict, column: str):
        value = row.get(column)
        return self.defaults.get(column) if blank(value) else value

    def request(self, row: dict, content: torch.Tensor) -> api.StyleRequest:
        """The core's request for one row and its decoded ``content``."""
        method = self._value(row, "method")
        size, long_side = tuple(content.shape[-2:]), int(self._value(row, "size"))
        mask = [] if blank(row.get("mask")) else [load_mask(str(row["mask"]), size)]
        paths = [] if method == "feedforward" else cell_list(self._value(row, "style"))
        wanted = Fields(
            method=method, styles=[_style_image(path, reading_side(long_side)) for path in paths],
            models=cell_list(self._value(row, "model")),
            style_weights=[float(w) for w in cell_list(self._value(row, "style_weight"))], masks=mask,
            strength=None if blank(self._value(row, "strength")) else float(self._value(row, "strength")),
            color=self._value(row, "color") or "none", size=long_side,
            tile=self.defaults.get("tile", "auto"), steps=int(self.defaults["steps"]),
            watermark=self.defaults.get("watermark", True),
        )
        return build(content, wanted, precision=self.defaults.get("precision", "auto"),
                     device=self.defaults.get("device", "auto"))

    def paint(self, row: dict) -> Path:
        """Paint one row; returns the output written."""
        content = load_image(row["content"], "content")
        request = self.request(row, content.rgb)
        painted = api.stylize(request)
        output = Path(row["output"])
        output.parent.mkdir(parents=True, exist_ok=True)
        alpha = None if content.alpha is None else resize(content.alpha, tuple(painted.shape[-2:]))
        parameters = {"content": Path(row["content"]).name, "method": request.method,
                      "model": ";".join(map(str, cell_list(self._value(row, "model")))) or None,
                      "styles": [Path(path).name for path in cell_list(self._value(row, "style"))],
                      "watermark": request.watermark}
        return save_image(output, painted, alpha, parameters, self.defaults.get("signing"))
