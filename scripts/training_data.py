#!/usr/bin/env python3
"""Build brushwork's training images from Debian packages, reproducibly.

    python3 scripts/training_data.py [--out data/training] [--short-side 384]

Each package is fetched with ``apt-get download`` (a private apt state in a temporary folder
lists Debian bookworm and trixie, so the host's apt configuration is neither used nor changed),
unpacked with ``dpkg-deb -x`` (nothing is installed), and the chosen images are resized to a
short side of ``--short-side`` pixels and saved as JPEG:

    OUT/photos/{train,heldout}/*.jpg             content images (photographs)
    OUT/paintings/{train,heldout,unseen}/*.jpg   style images (paintings, illustrations, artworks,
                                                 clip art, textures, and styles generated in code)
    OUT/manifest.csv                             one row per image: package, version, path, licence
    OUT/copyright/PACKAGE                        each package's Debian copyright file

About one image in ten is held out (chosen by a hash of its name, so the split never changes)
for judging trained models on images they never saw. Whole sources are kept ``unseen``: no
model trains on them, so they judge how a model does on styles unlike any it learned from. A
source may be capped (``limit``, the same images on every run) so that no source holds more than
a quarter of the styles. Styles generated in code (:mod:`plugin_core.training.generated`) are
brushwork's own work, released as CC0-1.0. Licences are read per file from each
package's machine-readable copyright file where it has one (the last matching ``Files:``
stanza wins), otherwise the package's licence is used. Needs Python 3, NumPy, Pillow, apt-get and dpkg-deb.
"""

from __future__ import annotations

import argparse
import csv
import fnmatch
import hashlib
import os
import re
import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

from PIL import Image

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

SUITES = ("bookworm", "trixie")
MIRROR = "http://deb.debian.org/debian"
KEYRING = "/usr/share/keyrings/debian-archive-keyring.gpg"
IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".webp")
HELDOUT_PERCENT = 10
WESNOTH = "usr/share/games/wesnoth/1.16/data/core/images"
PLASMA = "usr/share/wallpapers"
PLASMA_PHOTOS = (
    "BytheWater", "ColdRipple", "ColorfulCups", "DarkestHour", "EveningGlow", "FallenLeaf", "Grey", "Kite",
    "OneStandsOut", "Path", "summer_1am",
)
PORTRAIT_BACKGROUND = f"{WESNOTH}/maps/background.jpg"


@dataclass(frozen=True)
class Source:
    """Images of one kind taken from one Debian package.

    ``include``/``exclude``: glob patterns on paths inside the package; ``licence``: used where the
    copyright file is not machine-readable; ``composite``: images with alpha are laid over this
    image of the same package (Wesnoth's portraits over its parchment map); ``largest_per_folder``:
    the package keeps one picture per folder at several sizes (Plasma's wallpapers): take the largest;
    ``limit``: take at most this many (those whose names hash lowest, so the choice never changes);
    ``unseen``: every image goes to ``paintings/unseen``, never trained on; ``min_coverage``: skip
    images whose opaque part covers less of the frame than this (lone clip-art figures).
    """

    package: str
    suite: str
    kind: str
    include: tuple[str, ...]
    exclude: tuple[str, ...] = ()
    licence: str = ""
    composite: str = ""
    largest_per_folder: bool = False
    limit: int = 0
    unseen: bool = False
    min_coverage: float = 0.0


SOURCES = (
    Source("endless-sky-data", "bookworm", "photos",
           ("usr/share/games/endless-sky/images/land/*", "usr/share/games/endless-sky/images/scene/*")),
    Source("budgie-backgrounds", "trixie", "photos", ("usr/share/backgrounds/budgie/*",),
           exclude=("*/ocean-waves.*", "*/valley-midnight.*", "*/waves-midnight.*")),
    Source("budgie-backgrounds", "trixie", "paintings",
           ("*/ocean-waves.*", "*/valley-midnight.*", "*/waves-midnight.*")),
    Source("lomiri-wallpapers-16.04", "bookworm", "photos", ("usr/share/backgrounds/*",),
           exclude=("*/analogpattern_*", "*/umang_*", "*/warty-final-*")),
    Source("lomiri-wallpapers-16.04", "bookworm", "paintings", ("*/analogpattern_*", "*/umang_*")),
    Source("plasma-workspace-wallpapers", "bookworm", "photos",
           tuple(f"{PLASMA}/{name}/contents/images/*" for name in PLASMA_PHOTOS), largest_per_folder=True),
    Source("plasma-workspace-wallpapers", "bookworm", "paintings", (f"{PLASMA}/*/contents/images/*",),
           exclude=tuple(f"{PLASMA}/{name}/*" for name in PLASMA_PHOTOS), largest_per_folder=True),
    Source("ukui-wallpapers", "bookworm", "paintings", ("usr/share/backgrounds/*",)),
    Source("wesnoth-1.16-data", "bookworm", "paintings",
           (f"{WESNOTH}/story/*", f"{WESNOTH}/maps/*"), exclude=(f"{WESNOTH}/maps/l10n/*",), licence="GPL-2+",
           limit=40),
    Source("wesnoth-1.16-data", "bookworm", "paintings", (f"{WESNOTH}/portraits/*",),
           exclude=("*-mask.png", "*/transparent/*"), licence="GPL-2+", composite=PORTRAIT_BACKGROUND, limit=90),
    Source("desktop-base", "trixie", "paintings", ("usr/share/desktop-base/*-theme/grub/grub-16x9.png",)),
    Source("lxqt-themes", "trixie", "paintings", ("usr/share/lxqt/wallpapers/*",)),
    Source("stellarium-data", "trixie", "paintings", ("usr/share/stellarium/skycultures/*/illustrations/*",
                                                       "usr/share/stellarium/skycultures/*/*.png"),
           licence="GPL-2+", limit=80),
    Source("stellarium-data", "trixie", "paintings", ("usr/share/stellarium/nebulae/default/*",),
           licence="GPL-2+", limit=30),
    Source("supertux-data", "trixie", "paintings", ("usr/share/games/supertux2/images/background/*/*",),
           min_coverage=0.9, limit=60),
    Source("openclipart-png", "trixie", "paintings", ("usr/share/openclipart/png/*",),
           exclude=("*/computer/icons/*", "*/special/gradients/*"), licence="public-domain", min_coverage=0.6,
           limit=80),
    Source("mate-backgrounds", "trixie", "paintings", ("usr/share/backgrounds/mate/*/*",), unseen=True),
    Source("flare-game", "trixie", "paintings", ("usr/share/games/flare/mods/fantasycore/images/portraits/*",),
           unseen=True),
    Source("pingus-data", "trixie", "paintings", ("usr/share/games/pingus/data/images/textures/*",),
           licence="GPL-3+", unseen=True),
)
GENERATED_TRAIN = 20
"""Images per generated family in training (:data:`GENERATED_UNSEEN` families are kept unseen)."""
GENERATED_UNSEEN = {"cells": 12}
GENERATED_LICENCE = "CC0-1.0"


def apt_options(state: Path) -> list[str]:
    """apt-get options for a private state listing ``SUITES`` of the Debian archive."""
    (state / "lists/partial").mkdir(parents=True, exist_ok=True)
    (state / "cache/archives/partial").mkdir(parents=True, exist_ok=True)
    lines = [f"deb [signed-by={KEYRING}] {MIRROR} {suite} main" for suite in SUITES]
    (state / "sources.list").write_text("\n".join(lines) + "\n")
    return [
        "-o", f"Dir::Etc::SourceList={state / 'sources.list'}", "-o", "Dir::Etc::SourceParts=/nonexistent",
        "-o", f"Dir::State::Lists={state / 'lists'}", "-o", f"Dir::Cache={state / 'cache'}",
    ]


def unpack(package: str, suite: str, options: list[str], work: Path) -> tuple[Path, str]:
    """Download ``package`` from ``suite`` and unpack it; returns (its root, its version)."""
    root = work / f"{package}_{suite}"
    if not root.is_dir():
        downloads = work / "debs"
        downloads.mkdir(exist_ok=True)
        subprocess.run(["apt-get", *options, "download", f"{package}/{suite}"], cwd=downloads, check=True)
        deb = next(downloads.glob(f"{package}_*.deb"))
        subprocess.run(["dpkg-deb", "-x", str(deb), str(root)], check=True)
        (root / ".version").write_text(subprocess.check_output(["dpkg-deb", "-f", str(deb), "Version"], text=True))
    return root, (root / ".version").read_text().strip()


@dataclass(frozen=True)
class Stanza:
    """One ``Files:`` paragraph of a machine-readable Debian copyright file."""

    patterns: tuple[str, ...]
    licence: str
    copyright: str

    def matches(self, path: str) -> bool:
        """A pattern matches the end of ``path``; one naming a file without wildcards matches that
        file name in any folder (copyright files name files by their place in the source tree)."""
        parts = path.split("/")
        tails = ["/".join(parts[i:]) for i in range(len(parts))]
        for pattern in self.patterns:
            name = pattern.rsplit("/", 1)[-1]
            if any(fnmatch.fnmatchcase(tail, pattern) for tail in tails):
                return True
            if not any(char in name for char in "*?[") and name == parts[-1]:
                return True
        return False


def dep5_stanzas(copyright_text: str) -> list[Stanza]:
    """The ``Files:`` stanzas of a machine-readable Debian copyright file, in order."""
    stanzas = []
    for block in re.split(r"\n\s*\n", copyright_text):
        fields = re.findall(r"^(Files|License|Copyright):[ \t]*(.*(?:\n[ \t]+.*)*)", block, flags=re.MULTILINE)
        found = {name: value for name, value in fields}
        if "Files" in found and "License" in found:
            holders = " ".join(line.strip() for line in found.get("Copyright", "").splitlines())
            stanzas.append(Stanza(tuple(found["Files"].split()), found["License"].splitlines()[0].strip(), holders))
    return stanzas


def rights_of(path: str, stanzas: list[Stanza], fallback: str) -> tuple[str, str]:
    """``(licence, copyright holders)`` of the last stanza matching ``path``."""
    rights = (fallback, "see copyright file")
    for stanza in stanzas:
        if stanza.matches(path):
            rights = (stanza.licence, stanza.copyright or "see copyright file")
    return rights


def chosen(root: Path, source: Source) -> list[str]:
    """The package's image paths that ``source`` takes, in a stable order."""
    files = sorted(str(path.relative_to(root)) for path in root.rglob("*") if path.suffix.lower() in IMAGE_SUFFIXES)
    names = [
        name for name in files
        if any(fnmatch.fnmatchcase(name, p) for p in source.include)
        and not any(fnmatch.fnmatchcase(name, p) for p in source.exclude)
    ]
    if not source.largest_per_folder:
        return names
    largest: dict[str, tuple[int, str]] = {}
    for name in names:
        with Image.open(root / name) as probe:
            pixels = probe.width * probe.height
        folder = str(Path(name).parent)
        largest[folder] = max(largest.get(folder, (0, "")), (pixels, name))
    return sorted(name for _, name in largest.values())


def stems(source: Source, names: list[str]) -> dict[str, str]:
    """A unique file stem per path: the package, then the path below the folders all paths share."""
    common = os.path.commonpath([str(Path(name).parent) for name in names]) if names else ""
    below = {name: Path(os.path.relpath(name, common)).with_suffix("") for name in names}
    return {name: re.sub(r"[^A-Za-z0-9._-]+", "-", f"{source.package}-{path}") for name, path in below.items()}


def training_copy(path: Path, short_side: int, background: Path | None) -> Image.Image:
    """The image, alpha laid over ``background`` (or white), resized so its short side is ``short_side``."""
    image = Image.open(path)
    if image.mode in ("RGBA", "LA", "P", "PA"):
        image = image.convert("RGBA")
        if background is None:
            under = Image.new("RGB", image.size, "white")
        else:
            under = Image.open(background).convert("RGB")
            scale = max(image.width / under.width, image.height / under.height)
            under = under.resize((round(under.width * scale) + 1, round(under.height * scale) + 1), Image.LANCZOS)
            under = under.crop((0, 0, image.width, image.height))
        under.paste(image, mask=image.getchannel("A"))
        image = under
    image = image.convert("RGB")
    scale = short_side / min(image.size)
    if scale < 1:
        image = image.resize((round(image.width * scale), round(image.height * scale)), Image.LANCZOS)
    return image


def name_hash(name: str) -> int:
    return int(hashlib.sha1(name.encode()).hexdigest(), 16)


def split_of(name: str) -> str:
    return "heldout" if name_hash(name) % 100 < HELDOUT_PERCENT else "train"


def coverage(path: Path) -> float:
    """The share of the frame that is opaque (alpha above half); 1 for images without alpha."""
    with Image.open(path) as image:
        if image.mode not in ("RGBA", "LA", "P", "PA"):
            return 1.0
        levels = image.convert("RGBA").getchannel("A").histogram()
        return sum(levels[128:]) / (image.width * image.height)


def usable(root: Path, names: dict[str, str], source: Source, min_side: int) -> dict[str, str]:
    """The images big and opaque enough, at most ``source.limit`` of them (the lowest name hashes)."""
    kept = {}
    for name, stem in names.items():
        with Image.open(root / name) as probe:
            if min(probe.size) < min_side:
                continue
        if source.min_coverage and coverage(root / name) < source.min_coverage:
            continue
        kept[name] = stem
    if source.limit:
        for name in sorted(kept, key=lambda name: name_hash(kept[name]))[source.limit:]:
            del kept[name]
    return kept


def add_generated(out: Path, short_side: int) -> list[dict[str, str]]:
    """:data:`GENERATED_TRAIN` images of every generated family (split by name as the packages'
    images are), and the :data:`GENERATED_UNSEEN` families' images all in ``paintings/unseen``."""
    from plugin_core import __version__
    from plugin_core.training.generated import FAMILIES, generate

    rows = []
    for family in FAMILIES:
        count = GENERATED_UNSEEN.get(family, GENERATED_TRAIN)
        for seed in range(count):
            stem = f"generated-{family}-{seed:03d}"
            split = "unseen" if family in GENERATED_UNSEEN else split_of(stem)
            target = out / "paintings" / split / f"{stem}.jpg"
            target.parent.mkdir(parents=True, exist_ok=True)
            generate(family, seed, short_side).save(target, quality=92)
            rows.append({
                "file": str(target.relative_to(out)), "kind": "paintings", "split": split,
                "package": "brushwork-generated", "version": __version__, "suite": "",
                "path": f"plugin_core.training.generated.generate({family!r}, {seed}, {short_side})",
                "licence": GENERATED_LICENCE, "copyright": "brushwork authors",
            })
    return rows


def build(out: Path, short_side: int, min_side: int, work: Path) -> list[dict[str, str]]:
    options = apt_options(work / "apt")
    subprocess.run(["apt-get", *options, "update"], check=True)
    rows = []
    for source in SOURCES:
        root, version = unpack(source.package, source.suite, options, work)
        copyright_file = root / "usr/share/doc" / source.package / "copyright"
        (out / "copyright").mkdir(parents=True, exist_ok=True)
        shutil.copyfile(copyright_file, out / "copyright" / source.package)
        stanzas = dep5_stanzas(copyright_file.read_text(errors="replace"))
        background = root / source.composite if source.composite else None
        names = chosen(root, source)
        for name, stem in usable(root, stems(source, names), source, min_side).items():
            split = "unseen" if source.unseen else split_of(stem)
            target = out / source.kind / split / f"{stem}.jpg"
            target.parent.mkdir(parents=True, exist_ok=True)
            training_copy(root / name, short_side, background).save(target, quality=88)
            licence, holders = rights_of(name, stanzas, source.licence or "see copyright file")
            rows.append({
                "file": str(target.relative_to(out)), "kind": source.kind, "split": split,
                "package": source.package, "version": version, "suite": source.suite, "path": name,
                "licence": licence, "copyright": holders,
            })
    return rows + add_generated(out, short_side)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=Path("data/training"))
    parser.add_argument("--short-side", type=int, default=384, help="short side of the training copies")
    parser.add_argument("--min-side", type=int, default=256, help="skip images smaller than this")
    parser.add_argument("--work", type=Path, help="keep downloads here (default: a temporary folder)")
    args = parser.parse_args()
    Image.MAX_IMAGE_PIXELS = None  # Debian's own artwork: some very large, all trusted
    if args.out.exists():
        shutil.rmtree(args.out)
    with tempfile.TemporaryDirectory(prefix="brushwork-data-") as temporary:
        work = args.work or Path(temporary)
        work.mkdir(parents=True, exist_ok=True)
        rows = build(args.out, args.short_side, args.min_side, work)
    with open(args.out / "manifest.csv", "w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    for kind, split in sorted({(row["kind"], row["split"]) for row in rows}):
        count = sum(row["kind"] == kind and row["split"] == split for row in rows)
        print(f"{kind}/{split}: {count} images")


if __name__ == "__main__":
    main()
