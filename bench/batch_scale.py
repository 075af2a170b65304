"""Batch throughput: the in-process loop against Ray Data with 1 and 2 actors, on this machine.

    python bench/batch_scale.py [--images 200] [--size 512] [--method fast]

``--images`` copies of the example photo (in 10 subfolders) painted with ``--method`` at
``--size``, each run by ``brushwork batch`` in its own process into a fresh folder: wall time
including Ray's start, images/s, and the time per image above the in-process loop
(``(t_ray − t_local) / images``; the in-process loop runs one process on all cores through torch's
threads, each Ray actor one process on one core). What a cluster of N such machines would do is in
docs/batch_cluster.md.
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
FOLDERS = 10


def _run(source: Path, output: Path, method: str, size: int, engine: list[str]) -> float:
    command = [sys.executable, "-m", "brushwork.cli", "batch", str(source), "-o", str(output), "--method", method,
               "--style", str(ROOT / "examples" / "painting.jpg"), "--size", str(size), "-q", *engine]
    start = time.perf_counter()
    done = subprocess.run(command, capture_output=True, text=True, cwd=ROOT)
    seconds = time.perf_counter() - start
    if done.returncode != 0:
        raise SystemExit(f"{' '.join(engine)}: {done.stderr.strip().splitlines()[-1]}")
    return seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=int, default=200)
    parser.add_argument("--size", type=int, default=512)
    parser.add_argument("--method", default="fast")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as temporary:
        source = Path(temporary) / "photos"
        for index in range(args.images):
            folder = source / f"{index % FOLDERS:02d}"
            folder.mkdir(parents=True, exist_ok=True)
            shutil.copy(ROOT / "examples" / "photo.jpg", folder / f"{index:04d}.jpg")
        runs = {"in-process": ["--engine", "local"],
                "ray, 1 actor": ["--engine", "ray", "--actors", "1", "--batch-size", "8"],
                "ray, 2 actors": ["--engine", "ray", "--actors", "2", "--batch-size", "8"]}
        print(f"{args.images} images, {args.method}, {args.size} px")
        print(f"{'engine':15} {'seconds':>8} {'images/s':>9} {'overhead/image, s':>18}")
        local = None
        for name, engine in runs.items():
            seconds = _run(source, Path(temporary) / name.replace(" ", "").replace(",", "-"), args.method, args.size,
                           engine)
            local = seconds if local is None else local
            overhead = "" if name == "in-process" else f"{(seconds - local) / args.images:18.3f}"
            print(f"{name:15} {seconds:8.1f} {args.images / seconds:9.2f} {overhead}", flush=True)


if __name__ == "__main__":
    main()
