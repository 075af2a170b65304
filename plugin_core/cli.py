"""``brushwork`` command line: ``brushwork stylize CONTENT --style S [...] -o OUT``."""

from __future__ import annotations

import argparse
import sys
import warnings
from pathlib import Path

from tqdm import tqdm

from . import __version__, api
from .errors import BrushworkError, RequestError
from .image import SAVE_FORMATS, load_image, resize, save_image
from .masks import load_mask
from .methods.gatys import INITS, OPTIMIZERS, GatysSettings
from .regions import Region, Style

EXIT_BAD_INPUT = 2


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="brushwork", description="Neural style transfer for designers.")
    parser.add_argument("--version", action="version", version=f"brushwork {__version__}")
    commands = parser.add_subparsers(dest="command", required=True)
    s = commands.add_parser(
        "stylize",
        help="paint a photo in the style of one or more images",
        description="Paint CONTENT in the style of the --style images. With one --mask per --style, "
        "each style paints its own region; with a single --mask, all styles paint that region.",
    )
    s.add_argument("content", type=Path, help="the photo to stylize")
    s.add_argument("--style", "-s", type=Path, action="append", required=True, help="style image (repeatable)")
    s.add_argument("--style-weight", type=float, action="append", default=[], metavar="W",
                   help="weight of the matching --style (repeatable, default 1 each)")
    s.add_argument("--mask", "-m", type=Path, action="append", default=[],
                   help="where the style applies: alpha or grey image, white = styled (one, or one per --style)")
    s.add_argument("--method", default="gatys", help=f"one of {', '.join(api.METHODS)} (default gatys)")
    s.add_argument("--size", type=int, default=512, help="long side of the working and output image (default 512)")
    s.add_argument("--style-size", type=int, help="long side of the style images (default: content's pixel count)")
    s.add_argument("--steps", type=int, default=200, help="optimisation steps over all scales (default 200)")
    s.add_argument("--strength", type=float, default=0.5, help="0 = photo, 1 = all style (default 0.5)")
    s.add_argument("--color", default="none", choices=api.COLOR_MODES, help="keep the photo's colours")
    s.add_argument("--color-when", default="after", choices=api.COLOR_WHEN,
                   help="recolour the styles before transfer, or the result after (default after)")
    s.add_argument("--feather", type=float, default=0.0, help="soften mask edges by this many pixels")
    s.add_argument("--content-layers", type=_names, default=GatysSettings.content_layers, metavar="L,L",
                   help="VGG19 layers matched to the photo (default relu4_2)")
    s.add_argument("--style-layers", type=_names, default=GatysSettings.style_layers, metavar="L,L",
                   help="VGG19 layers whose Gram matrices match the style (default relu1_1,...,relu5_1)")
    s.add_argument("--style-layer-weights", type=_numbers, metavar="W,W",
                   help="one weight per style layer (default equal)")
    s.add_argument("--tv-weight", type=float, default=GatysSettings.tv_weight, help="total-variation weight")
    s.add_argument("--optimizer", default="lbfgs", choices=OPTIMIZERS)
    s.add_argument("--scales", type=int, default=GatysSettings.scales, help="coarse-to-fine levels (default 3)")
    s.add_argument("--init", default="content", help=f"{', '.join(INITS)} or an image file")
    s.add_argument("--seed", type=int, default=0)
    s.add_argument("--device", default="auto", help="auto, cpu or cuda[:N]")
    s.add_argument("--output", "-o", type=Path, help="output file (.png, .jpg, .webp, .tif)")
    s.add_argument("--overwrite", action="store_true", help="replace an existing output file")
    s.add_argument("--quiet", "-q", action="store_true", help="no progress bar")
    return parser


def _names(text: str) -> tuple[str, ...]:
    return tuple(name.strip() for name in text.split(",") if name.strip())


def _numbers(text: str) -> tuple[float, ...]:
    try:
        return tuple(float(value) for value in _names(text))
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected comma-separated numbers, got {text!r}") from None


def default_output(content: Path, method: str) -> Path:
    """``photo_gatys.png`` next to the photo; ``photo_gatys-2.png`` and on when that exists."""
    candidate = content.with_name(f"{content.stem}_{method}.png")
    number = 2
    while candidate.exists():
        candidate = content.with_name(f"{content.stem}_{method}-{number}.png")
        number += 1
    return candidate


def _output_path(args: argparse.Namespace) -> Path:
    if args.output is None:
        return default_output(args.content, args.method)
    output = args.output
    if output.suffix.lower() not in SAVE_FORMATS:
        raise RequestError(f"cannot write {output}: use one of {', '.join(sorted(SAVE_FORMATS))}")
    if output.exists() and output.resolve() == args.content.resolve():
        raise RequestError(f"output {output} is the content image; brushwork never overwrites its input")
    if output.exists() and not args.overwrite:
        raise RequestError(f"output {output} exists; pass --overwrite to replace it")
    if not output.parent.is_dir():
        raise RequestError(f"cannot write {output}: folder {output.parent} does not exist")
    return output


def _regions(args: argparse.Namespace, size: tuple[int, int]) -> list[Region]:
    weights = args.style_weight or [1.0] * len(args.style)
    if len(weights) != len(args.style):
        raise RequestError(f"{len(weights)} --style-weight for {len(args.style)} --style")
    styles = [Style(load_image(path, "style").rgb, weight) for path, weight in zip(args.style, weights, strict=True)]
    masks = [load_mask(path, size) for path in args.mask]
    if not masks:
        return [Region(styles)]
    if len(masks) == 1:
        return [Region(styles, masks[0])]
    if len(masks) == len(styles):
        return [Region([style], mask) for style, mask in zip(styles, masks, strict=True)]
    raise RequestError(f"{len(masks)} --mask for {len(styles)} --style: give one mask, or one per style")


def _init(value: str):
    if value in INITS:
        return value
    return load_image(Path(value), "init image").rgb


def stylize_command(args: argparse.Namespace) -> Path:
    output = _output_path(args)
    settings = GatysSettings(
        tv_weight=args.tv_weight, optimizer=args.optimizer, scales=args.scales, init=_init(args.init),
        content_layers=args.content_layers, style_layers=args.style_layers,
        style_layer_weights=args.style_layer_weights,
    )
    content = load_image(args.content, "content")
    regions = _regions(args, tuple(content.rgb.shape[-2:]))
    bar = tqdm(total=args.steps, unit="step", disable=args.quiet, leave=False)

    def progress(report: api.Progress) -> None:
        bar.total = report.total
        bar.set_postfix(loss=f"{report.losses.get('total', 0):.3g}", refresh=False)
        bar.update(report.step - bar.n)

    request = api.StyleRequest(
        content.rgb, regions, method=args.method, strength=args.strength, color=args.color,
        color_when=args.color_when, size=args.size, style_size=args.style_size, steps=args.steps,
        seed=args.seed, device=args.device, feather=args.feather, gatys=settings, progress=progress,
    )
    try:
        result = api.stylize(request)
    finally:
        bar.close()
    alpha = None if content.alpha is None else resize(content.alpha, tuple(result.shape[-2:]))
    parameters = {
        "content": args.content.name, "styles": [p.name for p in args.style], "style_weights": args.style_weight,
        "masks": [p.name for p in args.mask], "method": args.method, "strength": args.strength,
        "size": args.size, "steps": args.steps, "color": args.color, "color_when": args.color_when,
        "seed": args.seed, "tv_weight": args.tv_weight, "optimizer": args.optimizer, "init": args.init,
        "content_layers": list(args.content_layers), "style_layers": list(args.style_layers),
        "style_layer_weights": args.style_layer_weights,
    }
    return save_image(output, result, alpha, parameters)


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    with warnings.catch_warnings():
        warnings.simplefilter("always")
        warnings.showwarning = lambda message, *_rest, **_kw: print(f"brushwork: warning: {message}", file=sys.stderr)
        try:
            written = stylize_command(args)
        except BrushworkError as error:
            print(f"brushwork: error: {error}", file=sys.stderr)
            return EXIT_BAD_INPUT
        except KeyboardInterrupt:
            print("brushwork: interrupted; nothing written", file=sys.stderr)
            return 130
    print(f"wrote {written}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
