"""The painting options read: style images and masks loaded, the core's request built, the
signing chosen, and the parameters recorded in each file (the painting stack, loaded only when a
command paints)."""

from __future__ import annotations

import argparse
from pathlib import Path

from plugin_core import api, credentials, watermark
from plugin_core.controls import INITS, tile_label
from plugin_core.image import load_image, reading_side
from plugin_core.masks import load_mask
from plugin_core.methods.gatys import GatysSettings
from plugin_core.requests import Fields, build


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

