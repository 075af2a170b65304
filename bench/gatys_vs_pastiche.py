"""brushwork's Gram optimisation vs pastiche's CLI, side by side in one run.

Same content, style and long side (512). pastiche runs its CLI for 200 L-BFGS steps; brushwork
runs with its defaults. One evaluator (``bench/evaluate.py``) scores both outputs: the Gram style
loss over relu1_1..relu5_1 and the relu4_2 content loss, with the VGG19 from pastiche's weights.

Targets: style loss <= pastiche's, content loss <= 1.2x pastiche's, wall time <= 1/3 of pastiche's.

    python bench/gatys_vs_pastiche.py [--content F] [--style F] [--size 512] [--steps 200]
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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--content", type=Path, default=ROOT / "examples/photo.jpg")
    parser.add_argument("--style", type=Path, default=ROOT / "examples/painting.jpg")
    parser.add_argument("--size", type=int, default=512)
    parser.add_argument("--steps", type=int, default=200, help="pastiche's steps")
    args = parser.parse_args()
    content = load_image(args.content, "content").rgb
    style = load_image(args.style, "style").rgb

    folder = ROOT / "out" / "bench"
    folder.mkdir(parents=True, exist_ok=True)
    pastiche_png = folder / "pastiche.png"
    start = time.perf_counter()
    subprocess.run(
        [sys.executable, "-m", "pastiche", "--content", str(args.content), "--styles", str(args.style),
         "--size", str(args.size), "--num-steps", str(args.steps), "--seed", "0", "--no-verbose",
         "--output", str(pastiche_png)],
        check=True,
    )
    pastiche_seconds = time.perf_counter() - start
    pastiche_out = load_image(pastiche_png).rgb

    start = time.perf_counter()
    ours = api.stylize(api.simple_request(content, [style], size=args.size, device="cpu"))
    ours_seconds = time.perf_counter() - start
    ours = load_image(save_image(folder / "brushwork.png", ours)).rgb  # scored as saved, like pastiche's

    if tuple(ours.shape[-2:]) != tuple(pastiche_out.shape[-2:]):
        ours = resize(ours, fit_long_side(*ours.shape[-2:], max(pastiche_out.shape[-2:])))
    theirs, mine = score(pastiche_out, content, style), score(ours, content, style)
    rows = [
        ("wall time (s)", pastiche_seconds, ours_seconds, 1 / 3),
        ("style loss", theirs["style"], mine["style"], 1.0),
        ("content loss", theirs["content"], mine["content"], 1.2),
    ]
    print(f"{args.content.name} in the style of {args.style.name}, long side {args.size}, "
          f"{torch.get_num_threads()} threads")
    print(f"{'':16}{'pastiche':>14}{'brushwork':>14}{'ratio':>9}{'target':>9}")
    for name, theirs, mine, target in rows:
        ratio = mine / theirs
        verdict = "ok" if ratio <= target else "MISSED"
        print(f"{name:16}{theirs:14.4g}{mine:14.4g}{ratio:9.3f}{'<= ' + format(target, '.2f'):>9} {verdict}")


if __name__ == "__main__":
    main()
