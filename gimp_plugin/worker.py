"""The brushwork side of the GIMP filter: ``python -m gimp_plugin.worker FOLDER``.

The plug-in leaves in FOLDER ``request.json`` (method, model, strength, color, size, tile, steps,
watermark and the style image's path), ``content.npy`` (float32 ``[h, w, c]``: grey, grey + alpha, RGB or RGBA,
0..1), optionally ``mask.npy`` (the selection, ``[h, w]``) and ``style.npy`` (a layer as the style).
The worker writes ``result.npy``, the same shape, atomically: the painting scaled back to the layer's
size, blended by the mask (pixels outside it come back exactly as they were), alpha kept. It
prints ``progress F`` lines (F from 0 to 1) and, when it fails, one ``error MESSAGE`` line and
exits with status 2.

The plug-in holds the worker's stdin open and never writes to it. When the plug-in is gone (GIMP's
Cancel kills the plug-in process), stdin ends: the worker stops at once, whatever it is doing
(loading, measuring the style, between two layers of a step), removes FOLDER (nobody else will) and
exits with status 3, writing nothing. A progress line that finds stdout closed stops it the same way.
"""

from __future__ import annotations

import _thread
import dataclasses
import json
import os
import shutil
import sys
import threading
from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch

from plugin_core import api, registry
from plugin_core.color import luminance
from plugin_core.errors import BrushworkError, Cancelled, RequestError
from plugin_core.files import atomic_path
from plugin_core.image import load_image, resize
from plugin_core.requests import DEFAULT_SIZE, DEFAULT_STEPS, Fields, build

EXIT_FAILED = 2
EXIT_CANCELLED = 3


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
            styles = [load_image(request["style"], "style").rgb]
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


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    folder = Path(argv[0])
    try:
        result = paint(folder, report)
        report(1.0)
        with atomic_path(folder / "result.npy") as temporary:
            np.save(temporary, result, allow_pickle=False)
    except (Cancelled, KeyboardInterrupt):  # KeyboardInterrupt: from watch_the_plug_in
        shutil.rmtree(folder, ignore_errors=True)
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())  # no flush into the closed pipe at exit
        return EXIT_CANCELLED
    except BrushworkError as error:
        print(f"error {error}", flush=True)
        return EXIT_FAILED
    except (OSError, ValueError, KeyError) as error:
        reason = f"{type(error).__name__}: {error}"
        print(f"error the request in {folder} is incomplete or unreadable ({reason})", flush=True)
        return EXIT_FAILED
    return 0


def report(fraction: float) -> None:
    try:
        print(f"progress {fraction:.4f}", flush=True)
    except BrokenPipeError:
        raise Cancelled("the plug-in that reads the progress is gone") from None


def watch_the_plug_in() -> None:
    """Interrupt the main thread, wherever it is, once stdin ends: the plug-in holding it is gone."""

    def watch() -> None:
        while os.read(stdin, 4096):  # the raw descriptor: a buffered reader's lock would stall the exit
            pass
        _thread.interrupt_main()

    stdin = sys.stdin.fileno()

    threading.Thread(target=watch, name="plug-in watcher", daemon=True).start()


if __name__ == "__main__":
    watch_the_plug_in()
    sys.exit(main())
