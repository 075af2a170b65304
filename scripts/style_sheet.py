#!/usr/bin/env python3
"""The README's picture of brushwork's shipped feed-forward styles: each painting above what its
model makes of the example photo.

    .venv/bin/python scripts/style_sheet.py [--photo examples/photo.jpg] [--size 512] [-o docs/styles.jpg]

The paintings are read where each model's training command found them (``data/training``,
rebuilt by ``scripts/training_data.py``).
"""

from __future__ import annotations

import argparse
import shlex
import sys
from pathlib import Path

from PIL import Image, ImageDraw

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from plugin_core import api, registry  # noqa: E402
from plugin_core.image import fit_long_side, load_image, resize, tensor_to_pil  # noqa: E402
from plugin_core.regions import Region, Style  # noqa: E402
from plugin_core.tensor_files import read_tensors  # noqa: E402

LABEL = 20


def painting_of(name: str) -> Path:
    """The style image a shipped feed-forward model learnt: its training command's ``--style``."""
    command = shlex.split(read_tensors(registry.resolve(name)[0])[1]["command"])
    return ROOT / command[command.index("--style") + 1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--photo", type=Path, default=ROOT / "examples" / "photo.jpg")
    parser.add_argument("--size", type=int, default=512, help="long side of each painted photo")
    parser.add_argument("-o", "--output", type=Path, default=ROOT / "docs" / "styles.jpg")
    args = parser.parse_args()
    names = [model.name for model in registry.read_manifest().values()
             if model.family == "feedforward" and all(not file.url for file in model.files)]
    photo = load_image(args.photo).rgb
    photo = resize(photo, fit_long_side(*photo.shape[-2:], args.size))
    width, height = photo.shape[-1], photo.shape[-2]
    sheet = Image.new("RGB", (width * len(names), LABEL + height * 2), "white")
    draw = ImageDraw.Draw(sheet)
    for column, name in enumerate(names):
        painting = tensor_to_pil(load_image(painting_of(name)).rgb)
        painting.thumbnail((width, height))
        sheet.paste(painting, (column * width + (width - painting.width) // 2, LABEL))
        out = api.stylize(api.StyleRequest(photo, [Region([Style(model=name)])], method="feedforward", size=None))
        sheet.paste(tensor_to_pil(out), (column * width, LABEL + height))
        draw.text((column * width + 4, 4), f"--model {name}", fill="black")
    sheet.save(args.output, quality=88)
    print(f"wrote {args.output}")


if __name__ == "__main__":
    main()
