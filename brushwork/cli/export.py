"""``brushwork export onnx``: a model's ONNX graphs, checked against torch."""

from __future__ import annotations

import argparse
from pathlib import Path

from plugin_core.errors import RequestError


def add_parser(commands, summary: str) -> None:
    e = commands.add_parser("export", help=summary)
    formats = e.add_subparsers(dest="format", required=True)
    o = formats.add_parser("onnx", help="write a model's ONNX graphs, checked against torch",
                           description="Write an AdaIN, fast or feed-forward model as float32 ONNX graphs with "
                           "dynamic batch, height and width (AdaIN and fast: a companion graph, NAME.encoder.onnx "
                           "or NAME.style.onnx, goes beside). Needs pip install 'brushwork[onnx]'.")
    o.add_argument("model", metavar="NAME_OR_PATH", help="a model name from `brushwork models list`, or a file")
    o.add_argument("--output", "-o", type=Path, help="the .onnx file to write (default: the model's name, here)")
    o.add_argument("--overwrite", action="store_true", help="replace existing files")


def _export(args: argparse.Namespace) -> list[Path]:
    from plugin_core import loaders, onnx_backend  # the networks, loaded only to export

    onnx_backend.check_installed()
    family = loaders.detect_family(args.model)
    output = args.output or Path(f"{Path(args.model).stem}.onnx")
    for suffix in onnx_backend.GRAPHS[family]:
        path = output.with_name(output.stem + suffix + ".onnx")
        if path.exists() and not args.overwrite:
            raise RequestError(f"output {path} exists; pass --overwrite to replace it")
    return onnx_backend.export(loaders.load_model(args.model, family), output)


def run(args: argparse.Namespace, argv: list[str]) -> int:
    for path in _export(args):
        print(f"wrote {path} (matches torch)")
    return 0
