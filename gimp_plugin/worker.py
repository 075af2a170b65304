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
import os
import shutil
import sys
import threading
from pathlib import Path

import numpy as np

from plugin_core.errors import BrushworkError, Cancelled
from plugin_core.files import atomic_path

EXIT_FAILED = 2
EXIT_CANCELLED = 3


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    folder = Path(argv[0])
    try:
        from .painter import paint  # here, under the watcher: torch takes seconds to load, and Cancel may come first

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

    stdin = sys.stdin.fileno()

    def watch() -> None:
        while os.read(stdin, 4096):  # the raw descriptor: a buffered reader's lock would stall the exit
            pass
        _thread.interrupt_main()

    threading.Thread(target=watch, name="plug-in watcher", daemon=True).start()


if __name__ == "__main__":
    watch_the_plug_in()
    sys.exit(main())
