"""Options shared by the commands that paint (``stylize``, ``video``, ``batch``).

Their names, choices, defaults and help are the core's own (:mod:`plugin_core.controls`), read
without torch, so ``brushwork --help`` and an argument error answer at once; :mod:`.reading` turns
the parsed options into the core's request.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from plugin_core.controls import (
    BACKENDS,
    COLOR_MODES,
    COLOR_WHEN,
    CONTENT_LAYERS,
    DEFAULT_INIT,
    DEFAULT_METHOD,
    DEFAULT_SCALES,
    DEFAULT_SIZE,
    DEFAULT_STEPS,
    DEFAULT_TV_WEIGHT,
    HELP,
    OPTIMIZERS,
    PAINT_PRECISIONS,
    STYLE_LAYERS,
    tile_side,
)
from plugin_core.errors import RequestError

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
    parser.add_argument("--method", default=DEFAULT_METHOD, help=HELP["method"])
    parser.add_argument("--style", "-s", type=Path, action="append", default=[], help="style image (repeatable)")
    parser.add_argument("--model", action="append", default=[], metavar="NAME_OR_PATH",
                        help="adain: the decoder; fast: the fast model (default: the installed one); "
                        "feedforward: a style model (repeatable, one per region). See `brushwork models list`")
    parser.add_argument("--style-weight", type=float, action="append", default=[], metavar="W",
                        help=HELP["style_weights"] + " (repeatable, in the order of the styles)")
    parser.add_argument("--strength", "--alpha", type=float, dest="strength", help=HELP["strength"])
    parser.add_argument("--size", type=int, default=size, help=f"{HELP['size']}; default {size}")
    parser.add_argument("--tile", type=tile, default="auto", metavar="auto|off|N", help=HELP["tile"])
    parser.add_argument("--color", default="none", choices=COLOR_MODES, help=HELP["color"])
    parser.add_argument("--steps", type=int, default=DEFAULT_STEPS, help=HELP["steps"])
    parser.add_argument("--device", default="auto", help="auto, cpu or cuda[:N]")
    parser.add_argument("--precision", default="auto", choices=PAINT_PRECISIONS,
                        help="number format of the networks, VGG19 included for gatys (auto: bfloat16 where native); "
                             "int8: quantised graphs of feedforward and adain models, with --backend onnx")
    parser.add_argument("--watermark", default="on", choices=SWITCH, help=HELP["watermark"])


def add_painting_options(parser: argparse.ArgumentParser, size: int = DEFAULT_SIZE) -> None:
    """The fields, masks and every finer control, the same for a photo and a clip."""
    add_field_options(parser, size)
    parser.add_argument("--mask", "-m", type=Path, action="append", default=[],
                        help="where the style applies: alpha or grey image, white = styled (one, or one per style)")
    parser.add_argument("--style-size", type=int,
                        help="long side of the style images (default: the content's pixel count; tiled: the tile side)")
    parser.add_argument("--color-when", default="after", choices=COLOR_WHEN,
                        help="recolour the styles before transfer, or the result after (default after)")
    parser.add_argument("--feather", type=float, default=0.0, help="soften mask edges by this many pixels")
    parser.add_argument("--backend", default="torch", choices=BACKENDS,
                        help="onnx: run adain, fast and feedforward on onnxruntime (pip install 'brushwork[onnx]')")
    parser.add_argument("--overwrite", action="store_true", help="replace existing output files")
    parser.add_argument("--quiet", "-q", action="store_true", help="no progress bar")
    g = parser.add_argument_group("Gram optimisation (--method gatys)")
    g.add_argument("--content-layers", type=names, default=CONTENT_LAYERS, metavar="L,L",
                   help=f"VGG19 layers matched to the photo (default {','.join(CONTENT_LAYERS)})")
    g.add_argument("--style-layers", type=names, default=STYLE_LAYERS, metavar="L,L",
                   help=f"VGG19 layers whose Gram matrices match the style (default {','.join(STYLE_LAYERS)})")
    g.add_argument("--style-layer-weights", type=numbers, metavar="W,W",
                   help="one weight per style layer (default equal)")
    g.add_argument("--tv-weight", type=float, default=DEFAULT_TV_WEIGHT,
                   help=f"total-variation weight (default {DEFAULT_TV_WEIGHT:g})")
    g.add_argument("--optimizer", default="lbfgs", choices=OPTIMIZERS)
    g.add_argument("--scales", type=int, default=DEFAULT_SCALES,
                   help=f"coarse-to-fine levels (default {DEFAULT_SCALES})")
    g.add_argument("--init", default=DEFAULT_INIT, help=HELP["init"])
    g.add_argument("--seed", type=int, default=0)


def add_credentials_options(parser: argparse.ArgumentParser) -> None:
    """C2PA content credentials in the files written (the ``c2pa`` extra)."""
    c = parser.add_argument_group("content credentials (C2PA)")
    c.add_argument("--c2pa", default="auto", choices=("auto", "on", "off"),
                   help="sign a C2PA manifest into each file (auto: when c2pa-python is installed)")
    c.add_argument("--c2pa-cert", type=Path, metavar="PEM",
                   help="the signer's certificate chain (default: a development certificate made once)")
    c.add_argument("--c2pa-key", type=Path, metavar="PEM", help="the signer's private key")
