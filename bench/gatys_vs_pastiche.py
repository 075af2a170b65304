"""brushwork's Gram optimisation vs pastiche's CLI on held-out pairs and several sizes, side by side in one run.

Each of ``--pairs`` pairs (the first held-out photos and paintings of ``scripts/training_data.py``,
which no brushwork model was trained on, built with ``--out data/bench --short-side 768`` so that
1024 pixels is not mostly upsampling; ``make bench`` builds it) is painted at each long side of ``--sizes``:

* pastiche: its CLI for 200 L-BFGS steps, the style read at the content's pixel count (as brushwork
  reads it; pastiche's own default reads it at full size, slower and at another scale);
* brushwork: ``api.stylize`` with its defaults (precision ``auto``: bfloat16 where the CPU has it),
  from each start of ``--inits`` (the photo, or a one-pass painting: ``controls.PAINTED_INITS``),
  with the fewest of ``STEPS`` that reach pastiche's losses: the time to reach them.

One evaluator (``bench/evaluate.py``) scores both outputs as saved: the Gram style loss over
relu1_1..relu5_1 and the relu4_2 content loss.

Targets, at every pair and size: style loss <= pastiche's, content loss <= 1.2x, wall time <= 1/10.

    python bench/gatys_vs_pastiche.py [--photos DIR] [--paintings DIR] [--pairs 4] [--sizes 384 512 1024]
                                      [--inits content adain fast]
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
from plugin_core.controls import DEFAULT_INIT, INITS, PAINTED_INITS  # noqa: E402
from plugin_core.image import fit_long_side, load_image, resize, save_image  # noqa: E402
from plugin_core.methods.gatys import GatysSettings  # noqa: E402

HELDOUT = ROOT / "data" / "bench"
PASTICHE_STEPS = 200
STEPS = (50, 100, 150, 200, 300, 400)
"""brushwork's step counts, tried in turn until one reaches pastiche's losses."""
TARGETS = {"time": 1 / 10, "style": 1.0, "content": 1.2}


@dataclass(frozen=True)
class Outcome:
    """One pair at one size from one start: the ratios brushwork / pastiche, and brushwork's steps."""

    pair: str
    size: int
    pastiche_seconds: float
    init: str
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
              precision: str = "auto", init: str = DEFAULT_INIT) -> float:
    """Seconds for brushwork's defaults (with ``steps``, ``precision`` and ``init``) to paint ``output``,
    unmarked (pastiche marks nothing, and the mark raises the Gram loss: ``bench/quality.py``); a
    one-pass start's painting is part of the time."""
    start = time.perf_counter()
    result = api.stylize(api.simple_request(content, [style], method="gatys", size=size, steps=steps, device="cpu",
                                            precision=precision, watermark=False, gatys=GatysSettings(init=init)))
    seconds = time.perf_counter() - start
    save_image(output, result)
    return seconds


def compare(content_path: Path, style_path: Path, size: int, inits: list[str], folder: Path) -> list[Outcome]:
    """Per start: the fewest of ``STEPS`` that reach pastiche's losses (or the most, missing them)."""
    content, style = load_image(content_path, "content").rgb, load_image(style_path, "style").rgb
    theirs_png = folder / f"{content_path.stem}-{size}-pastiche.png"
    theirs_seconds = pastiche(content_path, style_path, size, theirs_png)
    theirs_image = load_image(theirs_png).rgb
    theirs = score(theirs_image, content, style)
    outcomes = []
    for init in inits:
        for steps in STEPS:
            mine_png = folder / f"{content_path.stem}-{size}-brushwork-{init}-{steps}.png"
            mine_seconds = brushwork(content, style, size, steps, mine_png, init=init)
            mine = load_image(mine_png).rgb
            theirs_size = theirs_image.shape[-2:]
            mine = score(resize(mine, theirs_size) if mine.shape[-2:] != theirs_size else mine, content, style)
            ratios = {"time": mine_seconds / theirs_seconds, "style": mine["style"] / theirs["style"],
                      "content": mine["content"] / theirs["content"]}
            outcome = Outcome(f"{content_path.stem[:24]} x {style_path.stem[:24]}", size, theirs_seconds, init,
                              ratios, steps)
            if ratios["style"] <= TARGETS["style"] and ratios["content"] <= TARGETS["content"]:
                break
        print(row(outcome), flush=True)
        outcomes.append(outcome)
    return outcomes


HEADER = (f"{'pair':51}{'size':>6}{'pastiche s':>12}{'start':>9}{'steps':>7}{'time':>8}{'style':>8}{'content':>9}"
          "  verdict")


def row(outcome: Outcome) -> str:
    r = outcome.ratios
    verdict = "ok" if outcome.met() else "MISSED " + ", ".join(name for name, t in TARGETS.items() if r[name] > t)
    return (f"{outcome.pair:51}{outcome.size:6}{outcome.pastiche_seconds:12.1f}{outcome.init:>9}{outcome.steps:7}"
            f"{r['time']:8.3f}{r['style']:8.3f}{r['content']:9.3f}  {verdict}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    heldout.add_arguments(parser, HELDOUT, 4)
    parser.add_argument("--sizes", type=int, nargs="+", default=[384, 512, 1024])
    parser.add_argument("--inits", nargs="+", choices=INITS, default=[DEFAULT_INIT, *PAINTED_INITS],
                        help="the starts to compare (default: the photo and every one-pass painting)")
    args = parser.parse_args()
    pairs = heldout.pairs(args)
    folder = ROOT / "out" / "bench" / "gatys"
    folder.mkdir(parents=True, exist_ok=True)
    print(f"{len(pairs)} held-out pairs, sizes {args.sizes}, {torch.get_num_threads()} threads; "
          f"ratios are brushwork / pastiche ({PASTICHE_STEPS} steps), targets {TARGETS}")
    print(HEADER)
    outcomes = [outcome for size in args.sizes for photo, painting in pairs
                for outcome in compare(photo, painting, size, args.inits, folder)]
    for init in args.inits:
        mine = [o for o in outcomes if o.init == init]
        worst = {name: max(o.ratios[name] for o in mine) for name in TARGETS}
        print(f"from {init}: worst time {worst['time']:.3f}, style {worst['style']:.3f}, content "
              f"{worst['content']:.3f}; {sum(o.met() for o in mine)} of {len(mine)} met every target")


if __name__ == "__main__":
    main()
