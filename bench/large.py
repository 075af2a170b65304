"""Large images on this machine: 4096x4096 through the one-pass methods, tiled, with peak memory.

    python bench/large.py [--size 4096] [--methods adain feedforward fast] [--probe 512 1024]

Each row runs ``api.stylize`` in its own process, so its peak memory (``ru_maxrss``) is its own.
Rows:

* ``probe``: every method (Gram with 2 steps) untiled at the ``--probe`` sizes; the growth of peak
  memory per added pixel is what ``plugin_core.tiling.BYTES_PER_PIXEL`` should hold;
* ``large``: each one-pass method at ``--size`` square, first whole (float32, no tiles: the
  reference, and what the memory would be without tiling), then with automatic tiling in float32
  and in ``auto`` precision. ``seam``: the mean gradient across the tiles' cross-fade bands over
  the mean gradient everywhere, divided by the same ratio of the whole-image reference at the
  same bands (1.0: the bands look as they do untiled; the photo's own content sets the plain
  ratio). ``diff``: mean difference from the reference in 8-bit levels (the thumbnail's
  statistics are not the whole image's).

Weights are random, in the published layouts (``bench/fast_methods.py``): time and memory do not
depend on their values. Content: examples/photo.jpg, its centre square resized to the size; style:
examples/painting.jpg. Target on the 2-core CPU: 4096x4096 AdaIN and feed-forward with peak RSS
<= 3 GB and no seams (seam <= 1.1). The whole-image references need up to about 15 GB.
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from fast_methods import write_weights  # noqa: E402

from plugin_core import api, tiling  # noqa: E402
from plugin_core.controls import tile_side  # noqa: E402
from plugin_core.image import load_image, resize  # noqa: E402
from plugin_core.networks.fast_arbitrary import FastArbitraryNet  # noqa: E402
from plugin_core.regions import Region, Style  # noqa: E402
from plugin_core.tensor_files import write_tensors  # noqa: E402

EXAMPLES = ROOT / "examples"
PEAK_TARGET_MB = 3 * 1024
SEAM_TOLERANCE = 1.1


def square_photo(side: int) -> torch.Tensor:
    photo = load_image(EXAMPLES / "photo.jpg").rgb
    height, width = photo.shape[-2:]
    short = min(height, width)
    top, left = (height - short) // 2, (width - short) // 2
    return resize(photo[..., top : top + short, left : left + short], (side, side))


def band_gradient(image: torch.Tensor, tile: int) -> float:
    """Mean |gradient| across the cross-fade bands (both directions) over the mean everywhere."""
    ratios = []
    for axis in (-1, -2):
        gradient = image.diff(dim=axis).abs().mean(dim=(0, 1, -2 if axis == -1 else -1))
        bands = [
            position for start in tiling.starts(image.shape[axis], tile, tiling.OVERLAP)[1:]
            for position in range(start + tiling.OVERLAP // 4, start + 3 * tiling.OVERLAP // 4)
        ]
        ratios.append(float(gradient[bands].mean() / gradient.mean()))
    return max(ratios)


def request(method: str, folder: Path, side: int, precision: str, tile: str, adain: str) -> api.StyleRequest:
    content = square_photo(side)
    options = dict(method=method, size=None, precision=precision, tile=tile, steps=2, device="cpu")
    if method == "feedforward":
        return api.StyleRequest(content, [Region([Style(model=folder / "style.pth")])], **options)
    style = load_image(EXAMPLES / "painting.jpg").rgb
    model = {"adain": adain or folder / "decoder.pth", "fast": folder / "fast.safetensors"}.get(method)
    return api.simple_request(content, [style], model=model, **options)


def child(args: argparse.Namespace) -> None:
    """One run; untiled (``--tile off``) it saves its output as the reference, tiled it compares with it."""
    tile = tile_side(args.tile)
    folder = Path(args.weights)
    job = request(args.method, folder, args.side, args.precision, args.tile, args.adain)
    planned = tiling.plan_tile(args.method, (args.side, args.side), tile, torch.device("cpu"))
    start = time.perf_counter()
    output = api.stylize(job)
    seconds = time.perf_counter() - start
    row = {"seconds": seconds, "peak_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, "tile": planned}
    reference = folder / f"{args.method}-{args.side}.pt"
    if planned is None:
        torch.save(output, reference)
    elif reference.is_file():
        whole = torch.load(reference, weights_only=True)
        row["seam"] = band_gradient(output, planned) / band_gradient(whole, planned)
        row["diff"] = float((output - whole).abs().mean() * 255)
    print(json.dumps(row))


def measure(method: str, side: int, precision: str, tile: str, folder: Path, adain: str) -> dict:
    command = [sys.executable, __file__, "--child", "--method", method, "--side", str(side), "--precision", precision,
               "--tile", tile, "--weights", str(folder), "--adain", adain]
    run = subprocess.run(command, capture_output=True, text=True)
    if run.returncode != 0:
        raise SystemExit(f"{method} {side}: {run.stderr.strip().splitlines()[-1]}")
    return json.loads(run.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--size", type=int, default=4096)
    parser.add_argument("--methods", nargs="+", default=["adain", "feedforward", "fast"])
    parser.add_argument("--probe", type=int, nargs="*", default=[512, 1024])
    parser.add_argument("--adain", default="", metavar="NAME_OR_PATH",
                        help="the AdaIN model (default: random weights in pytorch-AdaIN's layout; brushwork-adain "
                        "is the shipped default, whose whole 4096-pixel reference needs about 37 GB)")
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    for hidden in ("--method", "--precision", "--tile", "--weights"):
        parser.add_argument(hidden, help=argparse.SUPPRESS)
    parser.add_argument("--side", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args)
        return
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads, "
          f"{tiling.free_memory(torch.device('cpu')) / 2**30:.1f} GiB free")
    with tempfile.TemporaryDirectory() as temporary:
        folder = Path(temporary)
        write_weights(folder)
        torch.manual_seed(0)
        write_tensors(folder / "fast.safetensors", FastArbitraryNet().state_dict(), {"family": "fast"})
        if len(args.probe) >= 2:
            low, high = args.probe[0], args.probe[-1]
            print(f"\nuntiled, float32: peak MB at {low} and {high}, bytes per added pixel (tiling.BYTES_PER_PIXEL)")
            for method in (*args.methods, "gatys"):
                peaks = [measure(method, side, "float32", "0", folder, args.adain)["peak_mb"] for side in (low, high)]
                per_pixel = (peaks[1] - peaks[0]) * 2**20 / (high**2 - low**2)
                print(f"{method:12} {peaks[0]:8.0f} {peaks[1]:8.0f} {per_pixel:8.0f}   "
                      f"(now {tiling.BYTES_PER_PIXEL[method]})")
        print(f"\n{args.size}x{args.size}")
        print(f"{'method':12} {'run':18} {'tile':>5} {'seconds':>8} {'peak MB':>8} {'seam':>6} {'diff':>6}  target")
        for method in args.methods:
            runs = [("whole, float32", "float32", "off"), ("tiled, float32", "float32", "auto"),
                    ("tiled, auto", "auto", "auto")]
            for label, precision, tile in runs:
                row = measure(method, args.size, precision, tile, folder, args.adain)
                verdict = ""
                if row["tile"] is not None:
                    seamless = row.get("seam", 0) <= SEAM_TOLERANCE
                    verdict = "met" if row["peak_mb"] <= PEAK_TARGET_MB and seamless else "MISSED"
                print(f"{method:12} {label:18} {row['tile'] or '-':>5} {row['seconds']:8.1f} {row['peak_mb']:8.0f} "
                      f"{row.get('seam', float('nan')):6.3f} {row.get('diff', float('nan')):6.2f}  {verdict}")

if __name__ == "__main__":
    main()
