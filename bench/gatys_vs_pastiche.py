"""brushwork's Gram optimisation vs pastiche's CLI on held-out pairs and several sizes, side by side in one run.

Each of ``--pairs`` pairs (the first held-out photos and paintings of ``scripts/training_data.py``,
which no brushwork model was trained on, built with ``--out data/bench --short-side 768`` so that
1024 pixels is not mostly upsampling; ``make bench`` builds it) is painted at each long side of ``--sizes``:

* pastiche: its CLI for 200 L-BFGS steps, the style read at the content's pixel count (as brushwork
  reads it; pastiche's own default reads it at full size, slower and at another scale);
* brushwork: ``api.stylize`` with its defaults (precision ``auto``: bfloat16 where the CPU has it).

One evaluator (``bench/evaluate.py``) scores both outputs as saved: the Gram style loss over
relu1_1..relu5_1 and the relu4_2 content loss. Where brushwork's defaults miss pastiche's loss, it
runs again with each of ``MORE_STEPS`` until it reaches it, to say what that costs.

Targets, at every pair and size: style loss <= pastiche's, content loss <= 1.2x, wall time <= 1/4.

    python bench/gatys_vs_pastiche.py [--photos DIR] [--paintings DIR] [--pairs 4] [--sizes 384 512 1024]
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import heldout  # noqa: E402
from evaluate import score  # noqa: E402

from plugin_core import api  # noqa: E402
from plugin_core.image import fit_long_side, load_image, resize, save_image  # noqa: E402

HELDOUT = ROOT / "data" / "bench"
PASTICHE_STEPS = 200
MORE_STEPS = (300, 400)
TARGETS = {"time": 1 / 4, "style": 1.0, "content": 1.2}


@dataclass(frozen=True)
class Outcome:
    """One pair at one size: the ratios brushwork / pastiche, and brushwork's steps."""

    pair: str
    size: int
    pastiche_seconds: float
    ratios: dict[str, float]
    steps: int

    def met(self) -> bool:
        return all(self.ratios[name] <= target for name, target in TARGETS.items())


def pastiche(content: Path, style: Path, size: int, output: Path) -> float:
    """Seconds for pastiche's CLI to paint ``output``."""
    height, width = fit_long_side(*load_image(content).rgb.shape[-2:], size)
    start = time.perf_counter()
    subprocess.run(
        [sys.executable, "-m", "pastiche", "--content", str(content), "--styles", str(style), "--size", str(size),
         "--style-size-pixels", str(height * width), "--num-steps", str(PASTICHE_STEPS), "--seed", "0",
         "--no-verbose", "--output", str(output)],
        check=True,
    )
    return time.perf_counter() - start


def brushwork(content: torch.Tensor, style: torch.Tensor, size: int, steps: int, output: Path,
              precision: str = "auto") -> float:
    """Seconds for brushwork's defaults (with ``steps`` and ``precision``) to paint ``output``, unmarked
    (pastiche marks nothing, and the mark raises the Gram loss: ``bench/quality.py``)."""
    start = time.perf_counter()
    result = api.stylize(api.simple_request(content, [style], method="gatys", size=size, steps=steps, device="cpu",
                                            precision=precision, watermark=False))
    seconds = time.perf_counter() - start
    save_image(output, result)
    return seconds


def compare(content_path: Path, style_path: Path, size: int, folder: Path) -> Outcome:
    content, style = load_image(content_path, "content").rgb, load_image(style_path, "style").rgb
    theirs_png = folder / f"{content_path.stem}-{size}-pastiche.png"
    theirs_seconds = pastiche(content_path, style_path, size, theirs_png)
    theirs_image = load_image(theirs_png).rgb
    theirs = score(theirs_image, content, style)
    for steps in (api.StyleRequest.steps, *MORE_STEPS):
        mine_png = folder / f"{content_path.stem}-{size}-brushwork-{steps}.png"
        mine_seconds = brushwork(content, style, size, steps, mine_png)
        mine = load_image(mine_png).rgb
        theirs_size = theirs_image.shape[-2:]
        mine = score(resize(mine, theirs_size) if mine.shape[-2:] != theirs_size else mine, content, style)
        ratios = {"time": mine_seconds / theirs_seconds, "style": mine["style"] / theirs["style"],
                  "content": mine["content"] / theirs["content"]}
        outcome = Outcome(f"{content_path.stem[:24]} x {style_path.stem[:24]}", size, theirs_seconds, ratios, steps)
        if ratios["style"] <= TARGETS["style"] and ratios["content"] <= TARGETS["content"]:
            break
    print(row(outcome), flush=True)
    return outcome


HEADER = f"{'pair':51}{'size':>6}{'pastiche s':>12}{'time':>8}{'style':>8}{'content':>9}{'steps':>7}  verdict"


def row(outcome: Outcome) -> str:
    r = outcome.ratios
    verdict = "ok" if outcome.met() else "MISSED " + ", ".join(name for name, t in TARGETS.items() if r[name] > t)
    return (f"{outcome.pair:51}{outcome.size:6}{outcome.pastiche_seconds:12.1f}{r['time']:8.3f}{r['style']:8.3f}"
            f"{r['content']:9.3f}{outcome.steps:7}  {verdict}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    heldout.add_arguments(parser, HELDOUT, 4)
    parser.add_argument("--sizes", type=int, nargs="+", default=[384, 512, 1024])
    args = parser.parse_args()
    pairs = heldout.pairs(args)
    folder = ROOT / "out" / "bench" / "gatys"
    folder.mkdir(parents=True, exist_ok=True)
    print(f"{len(pairs)} held-out pairs, sizes {args.sizes}, {torch.get_num_threads()} threads; "
          f"ratios are brushwork / pastiche ({PASTICHE_STEPS} steps), targets {TARGETS}")
    print(HEADER)
    outcomes = [compare(photo, painting, size, folder) for size in args.sizes for photo, painting in pairs]
    worst = {name: max(o.ratios[name] for o in outcomes) for name in TARGETS}
    print(f"worst case: time {worst['time']:.3f}, style {worst['style']:.3f}, content {worst['content']:.3f}; "
          f"{sum(o.met() for o in outcomes)} of {len(outcomes)} met every target")


if __name__ == "__main__":
    main()
