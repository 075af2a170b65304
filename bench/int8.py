"""INT8 against float32 and bfloat16 on the shipped one-pass models: seconds, and quality against float32.

    python bench/int8.py [--models waves swamp autumn midnight brushwork-adain] [--sizes 512 1024]
                         [--photos DIR] [--styles DIR] [--pairs 4] [--repeats 3]

Each model paints examples/photo.jpg (style: examples/painting.jpg) at each long side four ways in
one process: torch float32, torch bfloat16, onnxruntime float32 and onnxruntime INT8 (the graphs
shipped in ``models/``, :mod:`plugin_core.onnx_int8`). Seconds are the median of ``--repeats`` whole
calls after a warm-up, the style encoded in each (one image, as a user paints it).

Quality: ``--pairs`` photos spread over ``--photos`` (training photos: the INT8 ranges were
calibrated on the held-out ones) at 512 px, AdaIN with as many styles spread over ``--styles`` (the
sources no model was trained on), each painted in float32 and in INT8: the luminance SSIM of INT8's
output to float32's, and the ratio of their Gram style losses (``bench/evaluate.py``).

Bar for offering INT8, on every pair: SSIM at least 0.97, and a style loss at most 5 % above float32's
(lower is closer to the style, so a lower one loses nothing).
"""

from __future__ import annotations

import argparse
import re
import statistics
import sys
import time
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import heldout  # noqa: E402
from evaluate import score, ssim  # noqa: E402

from plugin_core import api, loaders  # noqa: E402
from plugin_core.color import luminance  # noqa: E402
from plugin_core.image import load_image, resize  # noqa: E402
from plugin_core.regions import Region, Style  # noqa: E402
from plugin_core.training.data import image_files  # noqa: E402

EXAMPLES = ROOT / "examples"
DATA = ROOT / "data" / "training"
RUNS = {"torch float32": ("torch", "float32"), "torch bfloat16": ("torch", "bfloat16"),
        "onnx float32": ("onnx", "float32"), "onnx int8": ("onnx", "int8")}
BAR = {"ssim": 0.97, "style": 0.05}


def request(model: str, photo: torch.Tensor, style: torch.Tensor, size: int, backend: str, precision: str):
    method = loaders.detect_family(model)
    options = {"method": method, "size": size, "backend": backend, "precision": precision, "device": "cpu",
               "watermark": False, "tile": "off"}
    if method == "feedforward":
        return api.StyleRequest(photo, [Region([Style(model=model)])], **options)
    return api.simple_request(photo, [style], model=model, **options)


def seconds(model: str, photo: torch.Tensor, style: torch.Tensor, size: int, run: str, repeats: int) -> float:
    """The median time of one whole call, after a warm-up that loads (and exports) the graphs."""
    painting = request(model, photo, style, size, *RUNS[run])
    api.stylize(painting)
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        api.stylize(painting)
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def trained_style(model: str) -> Path:
    """A feed-forward model's painting, as its card's command names it."""
    card = (ROOT / "models" / f"{model}.md").read_text(encoding="utf-8")
    return ROOT / re.search(r"--style (\S+)", card).group(1)


def quality(model: str, pairs: list[tuple[Path, Path]]) -> list[tuple[float, float]]:
    """Per pair at 512 px: INT8's luminance SSIM to float32's output, and its style loss / float32's
    (to the style it paints: AdaIN the pair's, a feed-forward model its own)."""
    rows = []
    for photo_path, style_path in pairs:
        if loaders.detect_family(model) == "feedforward":
            style_path = trained_style(model)
        photo, style = load_image(photo_path).rgb, load_image(style_path).rgb
        exact, quantised = (api.stylize(request(model, photo, style, 512, *RUNS[run]))
                            for run in ("torch float32", "onnx int8"))
        photo = resize(photo, exact.shape[-2:])
        losses = [score(image, photo, style)["style"] for image in (exact, quantised)]
        rows.append((ssim(luminance(quantised), luminance(exact)), losses[1] / losses[0]))
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--models", nargs="+", default=["waves", "swamp", "autumn", "midnight", "brushwork-adain"])
    parser.add_argument("--sizes", type=int, nargs="+", default=[512, 1024])
    parser.add_argument("--photos", type=Path, default=DATA / "photos" / "train")
    parser.add_argument("--styles", type=Path, default=DATA / "paintings" / "unseen")
    parser.add_argument("--pairs", type=int, default=4)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    torch.set_grad_enabled(False)
    photo, style = load_image(EXAMPLES / "photo.jpg").rgb, load_image(EXAMPLES / "painting.jpg").rgb
    photos = heldout.spread(image_files(args.photos, "photo"), args.pairs)
    styles = heldout.spread(image_files(args.styles, "style"), args.pairs)
    print(f"{torch.get_num_threads()} threads; seconds per image (median of {args.repeats}); quality of INT8 "
          f"against float32 at 512 px on {len(photos)} photos; bar {BAR}")
    print(f"{'model':17}{'size':>6}" + "".join(f"{run:>16}" for run in RUNS) + f"{'int8 speed-up':>15}")
    for model in args.models:
        for size in args.sizes:
            times = {run: seconds(model, photo, style, size, run, args.repeats) for run in RUNS}
            print(f"{model:17}{size:6}" + "".join(f"{times[run]:16.3f}" for run in RUNS)
                  + f"{times['torch float32'] / times['onnx int8']:15.2f}x", flush=True)
    print(f"\n{'model':17}{'min SSIM':>10}{'style loss x':>16}  verdict")
    for model in args.models:
        rows = quality(model, list(zip(photos, styles, strict=False)))
        worst_ssim = min(row[0] for row in rows)
        ratios = [row[1] for row in rows]
        met = worst_ssim >= BAR["ssim"] and max(ratios) <= 1 + BAR["style"]
        print(f"{model:17}{worst_ssim:10.3f}{min(ratios):8.3f}-{max(ratios):.3f}  {'ok' if met else 'MISSED'}",
              flush=True)


if __name__ == "__main__":
    main()
