"""Options and their meaning shared by the commands that paint (``stylize``, ``video``, ``batch``).

The options are turned into :class:`plugin_core.requests.Fields` and built by the core's one
request builder; their help texts are the builder's own words (:data:`plugin_core.requests.HELP`).
"""

from __future__ import annotations

import argparse
from pathlib import Path

from plugin_core import api, credentials, onnx_backend, watermark
from plugin_core.devices import PRECISIONS
from plugin_core.errors import RequestError
from plugin_core.image import load_image, reading_side
from plugin_core.masks import load_mask
from plugin_core.methods.gatys import INITS, OPTIMIZERS, GatysSettings
from plugin_core.requests import DEFAULT_SIZE, DEFAULT_STEPS, HELP, Fields, build, tile_label, tile_side

SWITCH = ("on", "off")


def tile(text: str) -> str:
    """``--tile``: checked as the core reads it (auto, off or a side in pixels), kept as given."""
    try:
        tile_side(text)
    except RequestError as error:
        raise argparse.ArgumentTypeError(str(error)) from None
    return text


def names(text: str) -> tuple[str, ...]:
    return tuple(name.strip() for name in text.split(",") if name.strip())


def numbers(text: str) -> tuple[float, ...]:
    try:
        return tuple(float(value) for value in names(text))
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected comma-separated numbers, got {text!r}") from None


def add_field_options(parser: argparse.ArgumentParser, size: int = DEFAULT_SIZE) -> None:
    """What to paint, the same in every painting command (``size``: the default working size, 0 for
    the input's own)."""
    parser.add_argument("--method", default=api.DEFAULT_METHOD, help=HELP["method"])
    parser.add_argument("--style", "-s", type=Path, action="append", default=[], help="style image (repeatable)")
    parser.add_argument("--model", action="append", default=[], metavar="NAME_OR_PATH",
                        help="adain: the decoder; fast: the fast model (default: the installed one); "
                        "feedforward: a style model (repeatable, one per region). See `brushwork models list`")
    parser.add_argument("--style-weight", type=float, action="append", default=[], metavar="W",
                        help=HELP["style_weights"] + " (repeatable, in the order of the styles)")
    parser.add_argument("--strength", "--alpha", type=float, dest="strength", help=HELP["strength"])
    parser.add_argument("--size", type=int, default=size, help=f"{HELP['size']}; default {size}")
    parser.add_argument("--tile", type=tile, default="auto", metavar="auto|off|N", help=HELP["tile"])
    parser.add_argument("--color", default="none", choices=api.COLOR_MODES, help=HELP["color"])
    parser.add_argument("--steps", type=int, default=DEFAULT_STEPS, help=HELP["steps"])
    parser.add_argument("--device", default="auto", help="auto, cpu or cuda[:N]")
    parser.add_argument("--precision", default="auto", choices=PRECISIONS,
                        help="number format of the networks, VGG19 included for gatys (auto: bfloat16 where native)")
    parser.add_argument("--watermark", default="on", choices=SWITCH, help=HELP["watermark"])


def add_painting_options(parser: argparse.ArgumentParser, size: int = DEFAULT_SIZE) -> None:
    """The fields, masks and every finer control, the same for a photo and a clip."""
    add_field_options(parser, size)
    parser.add_argument("--mask", "-m", type=Path, action="append", default=[],
                        help="where the style applies: alpha or grey image, white = styled (one, or one per style)")
    parser.add_argument("--style-size", type=int,
                        help="long side of the style images (default: the content's pixel count; tiled: the tile side)")
    parser.add_argument("--color-when", default="after", choices=api.COLOR_WHEN,
                        help="recolour the styles before transfer, or the result after (default after)")
    parser.add_argument("--feather", type=float, default=0.0, help="soften mask edges by this many pixels")
    parser.add_argument("--backend", default="torch", choices=onnx_backend.BACKENDS,
                        help="onnx: run adain, fast and feedforward on onnxruntime (pip install 'brushwork[onnx]')")
    parser.add_argument("--overwrite", action="store_true", help="replace existing output files")
    parser.add_argument("--quiet", "-q", action="store_true", help="no progress bar")
    g = parser.add_argument_group("Gram optimisation (--method gatys)")
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


def add_credentials_options(parser: argparse.ArgumentParser) -> None:
    """C2PA content credentials in the files written (the ``c2pa`` extra)."""
    c = parser.add_argument_group("content credentials (C2PA)")
    c.add_argument("--c2pa", default="auto", choices=("auto", "on", "off"),
                   help="sign a C2PA manifest into each file (auto: when c2pa-python is installed)")
    c.add_argument("--c2pa-cert", type=Path, metavar="PEM",
                   help="the signer's certificate chain (default: a development certificate made once)")
    c.add_argument("--c2pa-key", type=Path, metavar="PEM", help="the signer's private key")


def signing(args: argparse.Namespace) -> credentials.Signing | None:
    """How ``--c2pa`` and its certificate say to sign the files written (None: not at all)."""
    if args.c2pa == "off" or (args.c2pa == "auto" and not credentials.installed() and args.c2pa_cert is None):
        return None
    signer = credentials.chosen_signer(args.c2pa_cert, args.c2pa_key)
    return credentials.Signing(signer, watermark.brushwork_payload() if args.watermark == "on" else None)


def gatys_settings(args: argparse.Namespace) -> GatysSettings:
    return GatysSettings(
        tv_weight=args.tv_weight, optimizer=args.optimizer, scales=args.scales, init=_init(args.init),
        content_layers=args.content_layers, style_layers=args.style_layers,
        style_layer_weights=args.style_layer_weights,
    )


def fields(args: argparse.Namespace, masks: list) -> Fields:
    """The fields these options ask for: style images read, ``masks`` already loaded."""
    styles = [load_image(path, "style", longest=reading_side(args.size)).rgb for path in args.style]
    return Fields(
        method=args.method, styles=styles, models=args.model, style_weights=args.style_weight, masks=masks,
        strength=args.strength, size=args.size, tile=args.tile, color=args.color, color_when=args.color_when,
        steps=args.steps, seed=args.seed, style_size=args.style_size, feather=args.feather,
        watermark=args.watermark == "on",
    )


def load_masks(args: argparse.Namespace, size: tuple[int, int]) -> list:
    """The ``--mask`` files for a content of ``size`` (another size is stretched, with a warning)."""
    return [load_mask(path, size) for path in args.mask]


def request(args: argparse.Namespace, content, wanted: Fields, progress=None) -> api.StyleRequest:
    """The API request for one image ``content`` ``[B,3,H,W]``."""
    return build(content, wanted, device=args.device, precision=args.precision, backend=args.backend,
                 gatys=gatys_settings(args), progress=progress)


def _init(value: str):
    if value in INITS:
        return value
    return load_image(Path(value), "init image").rgb


def parameters(args: argparse.Namespace, content: Path) -> dict:
    """What made the picture, stored in the output file."""
    parameters = {
        "content": content.name, "method": args.method, "size": args.size, "tile": tile_label(args.tile),
        "strength": api.DEFAULT_STRENGTH[args.method] if args.strength is None else args.strength,
        "style_weights": args.style_weight, "masks": [p.name for p in args.mask], "color": args.color,
        "color_when": args.color_when, "watermark": args.watermark == "on",
    }
    if args.method == "feedforward":
        return parameters | {"models": args.model, "precision": args.precision, "backend": args.backend}
    parameters["styles"] = [p.name for p in args.style]
    if args.method in ("adain", "fast"):
        return parameters | {"model": args.model[0] if args.model else None, "style_size": args.style_size,
                             "precision": args.precision, "backend": args.backend}
    return parameters | {
        "steps": args.steps, "seed": args.seed, "tv_weight": args.tv_weight, "optimizer": args.optimizer,
        "init": args.init, "content_layers": list(args.content_layers), "style_layers": list(args.style_layers),
        "style_layer_weights": args.style_layer_weights,
    }

