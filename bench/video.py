"""Video without flicker: speed per frame and the warping error of each consistency mode.

    python bench/video.py [--sizes 512 1024] [--frames 8] [--strip docs/video_strip.jpg]
                          [--adain NAME_OR_PATH] [--fast NAME_OR_PATH]

Clips (``tests/clips.py``, made from the example photo): a camera pan with a slow zoom (known
motion) at each size, and, at 512, an object crossing a still view (occlusions). For brushwork's
fast and AdaIN models (the installed ones unless ``--fast`` or ``--adain`` names another; default
settings, ``auto`` precision, frames unmarked: the invisible mark is a grain fixed in the frame,
which the warping error would count as flicker) and each ``--consistency`` (off, stats, flow):
seconds per frame (the clip's frames in one run, after a one-frame warm-up), the warping error (Lai
et al. 2018, ``plugin_core.video.flow``; the input clip's own error beside it) and the mean
per-frame Gram style loss (``bench/evaluate.py``), so that stability is never bought by washing the
style out; beside each, its multiple of frame by frame's (the style's worst frame too: blending
warped results in can blur the texture as a clip goes on). ``--style`` paints with another style
(default: the example painting). The strip (``--strip``) shows four frames of the pan: the input,
frame by frame, with flow, and the temporal error of each (``|O_t − warp(O_{t−1})|``, amplified 4x).
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.evaluate import score  # noqa: E402
from plugin_core import api  # noqa: E402
from plugin_core.image import load_image, resize, save_image  # noqa: E402
from plugin_core.video.flow import FlowEstimator, warp, warping_error  # noqa: E402
from plugin_core.video.frames import CONSISTENCY, stylize_frames  # noqa: E402
from tests import clips  # noqa: E402

METHODS = ("fast", "adain")
STRIP_FRAMES = 4
STRIP_SCALE = 2
"""The strip is written at half the frames' size."""
ERROR_GAIN = 4


def _run(clip, style, method, model, consistency):
    """(results, seconds per frame after the first)."""
    requests = (api.simple_request(frame, [style], method=method, model=model, size=None, watermark=False)
                for frame in clip)
    results, stamps = [], []
    for result in stylize_frames(requests, consistency):
        results.append(result)
        stamps.append(time.perf_counter())
    return results, statistics.mean(b - a for a, b in zip(stamps, stamps[1:]))


def _strip(path: Path, clip, runs) -> None:
    """Rows: input, off, flow, off's temporal error, flow's; columns: frames."""
    estimate = FlowEstimator()
    rows = [clip[:STRIP_FRAMES], runs["off"][:STRIP_FRAMES], runs["flow"][:STRIP_FRAMES]]
    for mode in ("off", "flow"):
        errors = [torch.zeros_like(clip[0])]
        for t in range(1, STRIP_FRAMES):
            backward = estimate(clip[t], clip[t - 1])
            errors.append(((runs[mode][t] - warp(runs[mode][t - 1], backward)).abs() * ERROR_GAIN).clamp(0, 1))
        rows.append(errors)
    sheet = torch.cat([torch.cat(row, dim=3) for row in rows], dim=2)
    path.parent.mkdir(parents=True, exist_ok=True)
    save_image(path, resize(sheet, (sheet.shape[-2] // STRIP_SCALE, sheet.shape[-1] // STRIP_SCALE)))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[512, 1024])
    parser.add_argument("--frames", type=int, default=8)
    parser.add_argument("--strip", type=Path, default=ROOT / "out" / "bench" / "video_strip.jpg")
    parser.add_argument("--style", type=Path, default=ROOT / "examples" / "painting.jpg")
    for method in METHODS:
        parser.add_argument(f"--{method}", metavar="NAME_OR_PATH", help=f"{method} model (default: the installed one)")
    args = parser.parse_args()
    style = load_image(args.style).rgb
    cases = [(f"pan {size}", clips.pan(args.frames, size=(size // 2, size))) for size in args.sizes]
    cases.append(("object 192", clips.moving_object(args.frames)))
    print(f"{'clip':12} {'method':7} {'mode':6} {'s/frame':>8} {'warping error':>14} {'x off':>6} {'input':>9} "
          f"{'style':>10} {'x off':>6} {'worst':>6}")
    for name, clip in cases:
        reference = warping_error(clip, clip)
        for method in METHODS:
            runs, losses, errors = {}, {}, {}
            for consistency in CONSISTENCY:
                results, seconds = _run(clip, style, method, getattr(args, method), consistency)
                runs[consistency] = results
                losses[consistency] = [score(r, c, style)["style"] for r, c in zip(results, clip)]
                errors[consistency] = warping_error(results, clip)
                ratios = [a / b for a, b in zip(losses[consistency], losses["off"])]
                print(f"{name:12} {method:7} {consistency:6} {seconds:8.3f} {errors[consistency]:14.6f} "
                      f"{errors[consistency] / errors['off']:6.2f} {reference:9.6f} "
                      f"{statistics.mean(losses[consistency]):10.3e} {statistics.mean(ratios):6.2f} {max(ratios):6.2f}",
                      flush=True)
            if name == cases[0][0] and method == "adain":
                _strip(args.strip, clip, runs)
    print(f"strip: {args.strip}")


if __name__ == "__main__":
    main()
