"""What the GIMP worker paints: the plug-in's request folder -> the core's request -> the result pixels
(the folder's files: :mod:`gimp_plugin.worker`)."""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch

from plugin_core import api, registry
from plugin_core.color import luminance
from plugin_core.controls import DEFAULT_SIZE, DEFAULT_STEPS
from plugin_core.errors import RequestError
from plugin_core.image import load_image, reading_side, resize
from plugin_core.requests import Fields, build


def _planes(pixels: np.ndarray) -> tuple[torch.Tensor, torch.Tensor | None]:
    """``[h, w, c]`` -> RGB ``[1,3,h,w]`` (grey repeated) and alpha ``[1,1,h,w]`` or None."""
    image = torch.from_numpy(np.array(pixels, np.float32)).permute(2, 0, 1)[None].clamp(0, 1)
    colour, alpha = (image, None) if image.shape[1] in (1, 3) else (image[:, :-1], image[:, -1:])
    return colour.expand(-1, 3, -1, -1).contiguous() if colour.shape[1] == 1 else colour, alpha


def fields(folder: Path, request: dict) -> Fields:
    """The fields of the dialog's ``request`` and the layers saved in ``folder`` (an empty model is
    the installed default; the feed-forward default is a shipped style)."""
    method = request["method"]
    model = request.get("model") or (registry.default_model("feedforward") if method == "feedforward" else None)
    styles = []
    if method != "feedforward":
        if request.get("style"):
            longest = reading_side(request.get("size", DEFAULT_SIZE))
            styles = [load_image(request["style"], "style", longest=longest).rgb]
        elif (folder / "style.npy").is_file():
            styles = [_planes(np.load(folder / "style.npy", allow_pickle=False))[0]]
        else:
            raise RequestError(f"the {method} method needs a style image or a style layer")
    return Fields(
        method=method, styles=styles, models=[model] if model else [], strength=request.get("strength"),
        color=request.get("color", "none"), size=request.get("size", DEFAULT_SIZE), tile=request.get("tile", "auto"),
        steps=request.get("steps", DEFAULT_STEPS), watermark=request.get("watermark", True),
    )


def style_request(folder: Path, rgb: torch.Tensor, mask: torch.Tensor | None, progress=None):
    """The core's request for the plug-in's ``folder``, painting ``rgb`` where ``mask`` (the selection)
    is on."""
    wanted = fields(folder, json.loads((folder / "request.json").read_text()))
    return build(rgb, dataclasses.replace(wanted, masks=[] if mask is None else [mask]), progress=progress)


def paint(folder: Path, report: Callable[[float], None]) -> np.ndarray:
    """The result pixels for the request in ``folder``."""
    content = np.load(folder / "content.npy", allow_pickle=False)
    grey = content.shape[2] in (1, 2)
    rgb, alpha = _planes(content)
    mask = None
    if (folder / "mask.npy").is_file():
        mask = torch.from_numpy(np.load(folder / "mask.npy", allow_pickle=False).astype(np.float32))[None, None]
    painted = api.stylize(style_request(folder, rgb, mask, lambda done: report(done.fraction)))
    painted = resize(painted, tuple(rgb.shape[-2:]))
    if mask is not None:
        painted = torch.lerp(rgb, painted, mask)
    planes = [luminance(painted) if grey else painted] + ([] if alpha is None else [alpha])
    return torch.cat(planes, dim=1)[0].permute(1, 2, 0).numpy()
