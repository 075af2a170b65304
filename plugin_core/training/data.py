"""Training images: a folder read once into memory (8 bits a channel), sampled as random square crops.

A crop takes a square whose side is a random fraction ``u ~ U(min_scale, 1)`` of the image's short
side (scale jitter), at a random place, resizes it to the training size and flips it left-right
with probability ½. Style crops may also be augmented (:class:`Augment`): flipped upside down and,
with probability ``colour``, given a new hue, saturation and contrast, so that a style set's
colours cover the wheel. All randomness comes from the caller's ``torch.Generator``, so a run
resumed from a checkpoint draws the same crops as one that never stopped.
"""

from __future__ import annotations

import csv
import os
from collections.abc import Collection
from dataclasses import dataclass
from pathlib import Path

import torch

from ..errors import RequestError
from ..files import IMAGE_SUFFIXES
from ..image import load_image, resize

MIN_SCALE = 0.5
"""The smallest crop side, as a fraction of the image's short side."""
YIQ = torch.tensor([[0.299, 0.587, 0.114], [0.596, -0.274, -0.322], [0.211, -0.523, 0.312]])
"""RGB to YIQ: luma, then the two chroma axes a hue rotation turns."""


@dataclass(frozen=True)
class Augment:
    """Random changes to a crop: with probability ``colour`` its hue turns by ``U(0, 1)`` of the
    wheel (a rotation of the YIQ chroma plane), its saturation is scaled by ``U(saturation)`` and its
    contrast about the mean by ``U(contrast)``; it is flipped upside down with probability ``flip``."""

    colour: float = 0.5
    saturation: tuple[float, float] = (0.5, 1.5)
    contrast: tuple[float, float] = (0.7, 1.3)
    flip: float = 0.5

    def __call__(self, crop: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
        """``crop`` ``[1,3,H,W]`` in 0..1, changed."""
        draws = torch.rand(5, generator=generator).tolist()
        if draws[0] < self.flip:
            crop = crop.flip(-2)
        if draws[1] >= self.colour:
            return crop
        angle = torch.tensor(2 * torch.pi * draws[2])
        saturation = self.saturation[0] + (self.saturation[1] - self.saturation[0]) * draws[3]
        contrast = self.contrast[0] + (self.contrast[1] - self.contrast[0]) * draws[4]
        cos, sin = torch.cos(angle) * saturation, torch.sin(angle) * saturation
        turn = torch.tensor([[1.0, 0.0, 0.0], [0.0, cos, -sin], [0.0, sin, cos]])
        matrix = (torch.linalg.inv(YIQ) @ turn @ YIQ).to(crop)
        crop = torch.einsum("ij,bjhw->bihw", matrix, crop)
        mean = crop.mean(dim=(-2, -1), keepdim=True)
        return ((crop - mean) * contrast + mean).clamp(0, 1)


def image_files(folder: Path, role: str) -> list[Path]:
    """The images in ``folder`` and its subfolders, sorted, or a clear error when there are none."""
    if not folder.is_dir():
        raise RequestError(f"{role} folder {folder} does not exist")
    files = sorted(p for p in folder.rglob("*") if p.suffix.lower() in IMAGE_SUFFIXES and p.is_file())
    if not files:
        raise RequestError(f"{role} folder {folder} holds no images ({', '.join(IMAGE_SUFFIXES)})")
    return files


class ImageSet:
    """The images of ``paths`` as 8-bit RGB tensors ``[3,H,W]`` in memory."""

    def __init__(self, paths: list[Path], role: str):
        if not paths:
            raise RequestError(f"no {role} images given")
        self.paths = paths
        self.images = [load_image(path, role).rgb[0].mul(255).round().to(torch.uint8) for path in paths]

    @classmethod
    def from_folder(cls, folder: Path, role: str, exclude_licences: Collection[str] = ()) -> ImageSet:
        """The images in ``folder``, less those whose licence in the data manifest is one of
        ``exclude_licences`` (e.g. a share-alike licence the weights could not honour)."""
        paths = image_files(folder, role)
        if exclude_licences:
            found = _manifest_rows(folder)
            if found is None:
                raise RequestError(f"cannot exclude licences: no {MANIFEST} in or above {folder}")
            rows = found[1]
            paths = [p for p in paths if rows.get(p.resolve(), {}).get("licence") not in exclude_licences]
        return cls(paths, role)

    def __len__(self) -> int:
        return len(self.images)

    def to(self, device: torch.device) -> ImageSet:
        """Keep the images on ``device`` (a GPU crops there; the random draws stay on the CPU)."""
        self.images = [image.to(device) for image in self.images]
        return self

    def crops(self, batch: int, size: int, generator: torch.Generator, min_scale: float = MIN_SCALE,
              augment: Augment | None = None) -> torch.Tensor:
        """``batch`` random crops, float ``[batch,3,size,size]`` in 0..1, each changed by ``augment``."""
        out = []
        for _ in range(batch):
            image = self.images[int(torch.randint(len(self.images), (1,), generator=generator))]
            height, width = image.shape[-2:]
            fraction = min_scale + (1 - min_scale) * float(torch.rand((), generator=generator))
            side = max(1, round(min(height, width) * fraction))
            top = int(torch.randint(height - side + 1, (1,), generator=generator))
            left = int(torch.randint(width - side + 1, (1,), generator=generator))
            crop = resize(image[None, :, top : top + side, left : left + side].float() / 255, (size, size))
            if float(torch.rand((), generator=generator)) < 0.5:
                crop = crop.flip(-1)
            out.append(crop if augment is None else augment(crop, generator))
        return torch.cat(out)


MANIFEST = "manifest.csv"
MANIFEST_SEARCH_DEPTH = 3
"""How many folders up from the images a ``manifest.csv`` (``scripts/training_data.py``) is looked for."""


def _manifest_rows(folder: Path) -> tuple[Path, dict[Path, dict[str, str]]] | None:
    for candidate in [folder, *folder.parents][:MANIFEST_SEARCH_DEPTH + 1]:
        if (candidate / MANIFEST).is_file():
            with open(candidate / MANIFEST, newline="") as handle:
                rows = {(candidate / row["file"]).resolve(): row for row in csv.DictReader(handle)}
            return candidate / MANIFEST, rows
    return None


def describe_augment(augment: Augment | None) -> dict[str, str]:
    """For a model card: the style augmentation a run used, if any."""
    return {} if augment is None else {"style_augment": repr(augment)}


def _shown(path: Path) -> str:
    """``path`` as a card names it: relative to the folder training ran in (the repository) when
    inside it, so that a card means the same on every machine."""
    try:
        return str(path.relative_to(Path.cwd().resolve()))
    except ValueError:
        return str(path)


def describe_images(paths: list[Path]) -> dict[str, object]:
    """For a model card: where the images are, how many, and their licences per the data manifest."""
    folder = Path(os.path.commonpath([str(p.resolve().parent) for p in paths]))
    found = _manifest_rows(folder)
    description: dict[str, object] = {"folder": _shown(folder), "images": len(paths)}
    if found is None:
        description["licences"] = f"unknown: no {MANIFEST} in or above {folder}"
        return description
    manifest, rows = found
    licences: dict[str, int] = {}
    packages: set[str] = set()
    for path in paths:
        row = rows.get(path.resolve())
        licence = row["licence"] if row else "not in the manifest"
        licences[licence] = licences.get(licence, 0) + 1
        if row and row.get("package"):
            packages.add(f"{row['package']} {row.get('version', '')}".strip())
    return description | {"manifest": _shown(manifest), "licences": licences, "sources": sorted(packages)}
