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
from plugin_core.errors import BrushworkError, RequestError
from plugin_core.image import load_image, resize, save_image
from plugin_core.masks import load_mask
from plugin_core.regions import Region, Style

STYLE_CACHE = 16


@lru_cache(maxsize=STYLE_CACHE)
def _style_image(path: str) -> torch.Tensor:
    return load_image(path, "style").rgb


def blank(value) -> bool:
    """An empty cell: None, "", or NaN (how tables and Ray Data hand over a missing number)."""
    return value is None or (isinstance(value, str) and not value) or (
        isinstance(value, (float, np.floating)) and bool(np.isnan(value)))


def stale_temporaries(output: Path) -> list[Path]:
    """Unfinished atomic writes of ``output`` left by a killed run (``.NAME.XXXX.SUFFIX`` beside it)."""
    return list(output.parent.glob(f".{output.stem}.*{output.suffix}")) if output.parent.is_dir() else []


class Painter:
    """Paints batches of rows (columns as arrays, Ray Data's numpy format) with ``defaults`` for blank cells:
    ``method``, ``style`` (paths joined by ``;``), ``model``, ``strength``, ``color``, ``size``, ``tile``,
    ``steps``, ``precision``, ``device``."""

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

    def paint(self, row: dict) -> Path:
        """Paint one row; returns the output written."""
        method = self._value(row, "method")
        content = load_image(row["content"], "content")
        size = tuple(content.rgb.shape[-2:])
        mask = None if blank(row.get("mask")) else load_mask(str(row["mask"]), size)
        model = self._value(row, "model") or None
        paths = [part for part in str(self._value(row, "style") or "").split(";") if part]
        if method == "feedforward":
            if model is None:
                raise RequestError("feedforward needs a model")
            styles = [Style(model=model)]
        else:
            if not paths:
                raise RequestError(f"{method} needs a style image")
            styles = [Style(_style_image(path)) for path in paths]
        painted = api.stylize(api.StyleRequest(
            content.rgb, [Region(styles, mask)], method=method, strength=self._value(row, "strength"),
            model=model if method in ("adain", "fast") else None, color=self._value(row, "color") or "none",
            size=int(self._value(row, "size") or 0) or None, tile=self.defaults.get("tile"),
            steps=self.defaults.get("steps", 200), precision=self.defaults.get("precision", "auto"),
            device=self.defaults.get("device", "auto"),
        ))
        output = Path(row["output"])
        output.parent.mkdir(parents=True, exist_ok=True)
        alpha = None if content.alpha is None else resize(content.alpha, tuple(painted.shape[-2:]))
        parameters = {"content": Path(row["content"]).name, "method": method, "model": model,
                      "styles": [Path(path).name for path in paths]}
        return save_image(output, painted, alpha, parameters)
