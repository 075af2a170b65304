"""Options and their meaning shared by the commands that paint (``stylize``, ``video``)."""

from __future__ import annotations

import argparse
from pathlib import Path

from .. import api, onnx_backend
from ..devices import PRECISIONS
from ..errors import RequestError
from ..image import load_image
from ..masks import load_mask
from ..methods.gatys import INITS, OPTIMIZERS, GatysSettings
from ..regions import Region, Style, assign


def tile(text: str) -> int | None:
    """``auto`` -> None (the core decides), ``off`` -> 0, else a tile side in pixels."""
    if text in ("auto", "off"):
        return None if text == "auto" else 0
    try:
        return int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"tile must be auto, off or a number of pixels, not {text!r}") from None


def names(text: str) -> tuple[str, ...]:
    return tuple(name.strip() for name in text.split(",") if name.strip())


def numbers(text: str) -> tuple[float, ...]:
    try:
        return tuple(float(value) for value in names(text))
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected comma-separated numbers, got {text!r}") from None


def add_painting_options(parser: argparse.ArgumentParser, size: int = 512) -> None:
    """The method, styles, masks and controls, the same for a photo and a clip (``size``: the default
    working size, 0 for the input's own)."""
    parser.add_argument("--method", default=api.DEFAULT_METHOD,
                        help=f"one of {', '.join(api.METHODS)} (default {api.DEFAULT_METHOD})")
    parser.add_argument("--style", "-s", type=Path, action="append", default=[], help="style image (repeatable)")
    parser.add_argument("--model", action="append", default=[], metavar="NAME_OR_PATH",
                        help="adain: the decoder; fast: the fast model (default: the installed one); "
                        "feedforward: a style model (repeatable, one per region). See `brushwork models list`")
    parser.add_argument("--style-weight", type=float, action="append", default=[], metavar="W",
                        help="weight of the matching style (repeatable, default 1 each)")
    parser.add_argument("--mask", "-m", type=Path, action="append", default=[],
                        help="where the style applies: alpha or grey image, white = styled (one, or one per style)")
    parser.add_argument("--strength", "--alpha", type=float, dest="strength",
                        help="0 = photo, 1 = all style (default: gatys 0.5, adain, feedforward and fast 1)")
    default = size or "the input's own"
    parser.add_argument("--size", type=int, default=size,
                        help=f"long side of the working and output image (default {default}; 0: the input's own)")
    parser.add_argument("--style-size", type=int,
                        help="long side of the style images (default: the content's pixel count; tiled: the tile side)")
    parser.add_argument("--tile", type=tile, default=None, metavar="auto|off|N",
                        help="process large images in tiles of N pixels (default auto: when free memory calls for it)")
    parser.add_argument("--color", default="none", choices=api.COLOR_MODES, help="keep the photo's colours")
    parser.add_argument("--color-when", default="after", choices=api.COLOR_WHEN,
                        help="recolour the styles before transfer, or the result after (default after)")
    parser.add_argument("--feather", type=float, default=0.0, help="soften mask edges by this many pixels")
    parser.add_argument("--device", default="auto", help="auto, cpu or cuda[:N]")
    parser.add_argument("--backend", default="torch", choices=onnx_backend.BACKENDS,
                        help="onnx: run adain, fast and feedforward on onnxruntime (pip install 'brushwork[onnx]')")
    parser.add_argument("--precision", default="auto", choices=PRECISIONS,
                        help="number format of the networks, VGG19 included for gatys (auto: bfloat16 where native)")
    parser.add_argument("--overwrite", action="store_true", help="replace existing output files")
    parser.add_argument("--quiet", "-q", action="store_true", help="no progress bar")
    g = parser.add_argument_group("Gram optimisation (--method gatys)")
    g.add_argument("--steps", type=int, default=200, help="optimisation steps over all scales (default 200)")
    g.add_argument("--content-layers", type=names, default=GatysSettings.content_layers, metavar="L,L",
                   help="VGG19 layers matched to the photo (default relu4_2)")
    g.add_argument("--style-layers", type=names, default=GatysSettings.style_layers, metavar="L,L",
                   help="VGG19 layers whose Gram matrices match the style (default relu1_1,...,relu5_1)")
    g.add_argument("--style-layer-weights", type=numbers, metavar="W,W",
                   help="one weight per style layer (default equal)")
    g.add_argument("--tv-weight", type=float, default=GatysSettings.tv_weight, help="total-variation weight")
    g.add_argument("--optimizer", default="lbfgs", choices=OPTIMIZERS)
    g.add_argument("--scales", type=int, default=GatysSettings.scales, help="coarse-to-fine levels (default 3)")
    g.add_argument("--init", default="content", help=f"{', '.join(INITS)} or an image file")
    g.add_argument("--seed", type=int, default=0)


def check_method(args: argparse.Namespace) -> None:
    if args.method not in api.METHODS:
        raise RequestError(f"unknown method {args.method!r}: use one of {', '.join(api.METHODS)}")


def gatys_settings(args: argparse.Namespace) -> GatysSettings:
    return GatysSettings(
        tv_weight=args.tv_weight, optimizer=args.optimizer, scales=args.scales, init=_init(args.init),
        content_layers=args.content_layers, style_layers=args.style_layers,
        style_layer_weights=args.style_layer_weights,
    )


def request(
    args: argparse.Namespace, content, regions: list[Region], gatys: GatysSettings, progress=None
) -> api.StyleRequest:
    """The API request these options ask for, for one image ``content`` ``[B,3,H,W]``."""
    return api.StyleRequest(
        content, regions, method=args.method, strength=args.strength, model=arbitrary_model(args), color=args.color,
        color_when=args.color_when, size=args.size or None, style_size=args.style_size, tile=args.tile,
        steps=args.steps, seed=args.seed, device=args.device, precision=args.precision, backend=args.backend,
        feather=args.feather, gatys=gatys, progress=progress,
    )


def styles(args: argparse.Namespace) -> list[Style]:
    """The styles: images for gatys and adain, models for feedforward, with their weights."""
    if args.method == "feedforward":
        if not args.model:
            raise RequestError("feedforward needs --model (a style model name or file); see `brushwork models list`")
        if args.style:
            raise RequestError("feedforward paints with trained --model styles; --style images are not used")
        paints = [{"model": model} for model in args.model]
    else:
        if not args.style:
            raise RequestError(f"{args.method} needs at least one --style image")
        paints = [{"image": load_image(path, "style").rgb} for path in args.style]
    weights = args.style_weight or [1.0] * len(paints)
    if len(weights) != len(paints):
        raise RequestError(f"{len(weights)} --style-weight for {len(paints)} styles")
    return [Style(weight=weight, **paint) for paint, weight in zip(paints, weights, strict=True)]


def regions(styles: list[Style], mask_paths: list[Path], size: tuple[int, int]) -> list[Region]:
    return assign(styles, [load_mask(path, size) for path in mask_paths])


def arbitrary_model(args: argparse.Namespace) -> str | None:
    """The one --model of adain (the decoder) and fast (the network)."""
    if args.method not in ("adain", "fast") or not args.model:
        return None
    if len(args.model) > 1:
        raise RequestError(f"{args.method} takes one --model, got {len(args.model)}")
    return args.model[0]


def _init(value: str):
    if value in INITS:
        return value
    return load_image(Path(value), "init image").rgb


def parameters(args: argparse.Namespace, content: Path) -> dict:
    """What made the picture, stored in the output file."""
    parameters = {
        "content": content.name, "method": args.method, "size": args.size, "tile": args.tile,
        "strength": api.DEFAULT_STRENGTH[args.method] if args.strength is None else args.strength,
        "style_weights": args.style_weight, "masks": [p.name for p in args.mask], "color": args.color,
        "color_when": args.color_when,
    }
    if args.method == "feedforward":
        return parameters | {"models": args.model, "precision": args.precision, "backend": args.backend}
    parameters["styles"] = [p.name for p in args.style]
    if args.method in ("adain", "fast"):
        model = arbitrary_model(args)
        return parameters | {"model": model, "style_size": args.style_size, "precision": args.precision,
                             "backend": args.backend}
    return parameters | {
        "steps": args.steps, "seed": args.seed, "tv_weight": args.tv_weight, "optimizer": args.optimizer,
        "init": args.init, "content_layers": list(args.content_layers), "style_layers": list(args.style_layers),
        "style_layer_weights": args.style_layer_weights,
    }

