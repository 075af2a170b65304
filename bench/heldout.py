"""The photo and painting pairs the quality benchmarks paint: held-out images no model was trained on.

``scripts/training_data.py`` holds about one image in ten out of training; the first ``--pairs``
photos and paintings of its held-out folders (sorted by name) are zipped into pairs.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from plugin_core.training.data import image_files  # noqa: E402


def add_arguments(parser: argparse.ArgumentParser, data: Path, pairs: int) -> None:
    """``--photos``, ``--paintings`` (the held-out folders under ``data``) and ``--pairs``."""
    parser.add_argument("--photos", type=Path, default=data / "photos" / "heldout")
    parser.add_argument("--paintings", type=Path, default=data / "paintings" / "heldout")
    parser.add_argument("--pairs", type=int, default=pairs)


def pairs(args: argparse.Namespace) -> list[tuple[Path, Path]]:
    """The first ``args.pairs`` photos and paintings, zipped."""
    photos = image_files(args.photos, "photo")[: args.pairs]
    paintings = image_files(args.paintings, "painting")[: args.pairs]
    return list(zip(photos, paintings, strict=False))
