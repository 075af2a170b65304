"""Gram optimisation in float32 against bfloat16 autocast, at equal steps, on held-out pairs.

Each pair is painted at each long side with brushwork's defaults twice, ``precision="float32"``
(the exact path) and ``"bfloat16"`` (VGG19's passes under autocast, all else float32), and both
results are scored as saved by ``bench/evaluate.py``. Prints seconds, the speed-up and bfloat16's
losses relative to float32's. bfloat16 pays only on hardware that computes it (AMX, AVX512-BF16,
CUDA); elsewhere it is emulated and slower.

Target: style and content losses within a few percent of float32's.

    python bench/gatys_precision.py [--photos DIR] [--paintings DIR] [--pairs 2] [--sizes 384 1024]
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import heldout  # noqa: E402
from evaluate import score  # noqa: E402
from gatys_vs_pastiche import HELDOUT, brushwork  # noqa: E402

from plugin_core import api  # noqa: E402
from plugin_core.devices import cpu_has_native_bf16  # noqa: E402
from plugin_core.image import load_image  # noqa: E402

PRECISIONS = ("float32", "bfloat16")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    heldout.add_arguments(parser, HELDOUT, 2)
    parser.add_argument("--sizes", type=int, nargs="+", default=[384, 1024])
    args = parser.parse_args()
    folder = ROOT / "out" / "bench" / "precision"
    folder.mkdir(parents=True, exist_ok=True)
    pairs = heldout.pairs(args)
    print(f"{torch.get_num_threads()} threads, native bfloat16: {cpu_has_native_bf16()}")
    print(f"{'pair':51}{'size':>6}{'float32 s':>11}{'bf16 s':>9}{'speed-up':>10}{'style':>8}{'content':>9}")
    for size in args.sizes:
        for photo, painting in pairs:
            content, style = load_image(photo, "content").rgb, load_image(painting, "style").rgb
            seconds, scores = {}, {}
            for precision in PRECISIONS:
                output = folder / f"{photo.stem}-{size}-{precision}.png"
                seconds[precision] = brushwork(content, style, size, api.StyleRequest.steps, output, precision)
                scores[precision] = score(load_image(output).rgb, content, style)
            f32, bf16 = scores["float32"], scores["bfloat16"]
            print(f"{photo.stem[:24] + ' x ' + painting.stem[:24]:51}{size:6}{seconds['float32']:11.1f}"
                  f"{seconds['bfloat16']:9.1f}{seconds['float32'] / seconds['bfloat16']:10.2f}"
                  f"{bf16['style'] / f32['style']:8.3f}{bf16['content'] / f32['content']:9.3f}", flush=True)


if __name__ == "__main__":
    main()
