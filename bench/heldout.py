"""The photo and painting pairs the quality benchmarks paint: images no model was trained on.

``scripts/training_data.py`` holds about one image in ten of every training source out of
training (``heldout``), and keeps whole sources out of it (``unseen``: packages and generated
families no model ever saw). Held-out pairs zip the first ``--pairs`` photos of the held-out
folder with as many of its paintings, spread evenly over them sorted by name (so over the
sources). Unseen pairs cross ``--unseen-photos`` held-out photos with ``--per-source`` styles of
each unseen source, spread evenly over its styles sorted by name.
"""

from __future__ import annotations

import argparse
import csv
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


def add_unseen_arguments(parser: argparse.ArgumentParser, data: Path) -> None:
    """``--unseen`` (the folder of unseen styles, with the data manifest above it), ``--per-source``
    and ``--unseen-photos``."""
    parser.add_argument("--unseen", type=Path, default=data / "paintings" / "unseen")
    parser.add_argument("--per-source", type=int, default=2, help="unseen styles per source (default 2)")
    parser.add_argument("--unseen-photos", type=int, default=4, help="photos each unseen style paints (default 4)")


def spread(paths: list[Path], count: int) -> list[Path]:
    """``count`` of ``paths`` at even intervals (all of them when there are fewer)."""
    return [paths[i * len(paths) // count] for i in range(min(count, len(paths)))]


def pairs(args: argparse.Namespace) -> list[tuple[Path, Path]]:
    """The first ``args.pairs`` photos, each with a painting spread over the held-out ones."""
    photos = image_files(args.photos, "photo")[: args.pairs]
    paintings = spread(image_files(args.paintings, "painting"), args.pairs)
    return list(zip(photos, paintings, strict=False))


def unseen_styles(folder: Path, per_source: int) -> dict[str, list[Path]]:
    """``{source: per_source of its styles, evenly spread}`` in ``folder``, sources named by the data
    manifest (a generated family is a source of its own)."""
    manifest = folder.parents[1] / "manifest.csv"
    with open(manifest, newline="") as handle:
        source_of = {(manifest.parent / row["file"]).resolve(): row["package"] for row in csv.DictReader(handle)}
    by_source: dict[str, list[Path]] = {}
    for path in image_files(folder, "unseen style"):
        source = source_of.get(path.resolve(), "unknown")
        if source == "brushwork-generated":
            source = f"generated {path.stem.split('-')[1]}"
        by_source.setdefault(source, []).append(path)
    return {source: spread(paths, per_source) for source, paths in by_source.items()}


def unseen_pairs(args: argparse.Namespace) -> list[tuple[Path, Path]]:
    """Every unseen style with each of the first ``args.unseen_photos`` held-out photos."""
    photos = image_files(args.photos, "photo")[: args.unseen_photos]
    styles = [path for paths in unseen_styles(args.unseen, args.per_source).values() for path in paths]
    return [(photo, style) for style in styles for photo in photos]
