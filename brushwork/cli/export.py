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
    o.add_argument("--int8", action="store_true",
                   help="write the statically quantised graph that --backend onnx --precision int8 runs "
                        "(feedforward: NAME.int8.onnx; adain: its encoder, NAME.int8.encoder.onnx), beside the "
                        "weights unless --output names the file; needs --calibrate")
    o.add_argument("--calibrate", type=Path, nargs="+", metavar="FOLDER",
                   help="folders of photos and paintings (a few dozen in all, held out of training) whose "
                        "activations set the INT8 ranges")


def _export(args: argparse.Namespace) -> list[Path]:
    from plugin_core import loaders, onnx_backend  # the networks, loaded only to export

    onnx_backend.check_installed()
    family = loaders.detect_family(args.model)
    output = args.output or Path(f"{Path(args.model).stem}.onnx")
    for suffix in onnx_backend.GRAPHS[family]:
        _refuse_existing(output.with_name(output.stem + suffix + ".onnx"), args.overwrite)
    return onnx_backend.export(loaders.load_model(args.model, family), output)


def _export_int8(args: argparse.Namespace) -> Path:
    from plugin_core import loaders, onnx_backend, onnx_int8  # the networks, loaded only to export
    from plugin_core.image import load_image
    from plugin_core.training.data import image_files

    onnx_backend.check_installed()
    if args.calibrate is None:
        raise RequestError("--int8 needs --calibrate FOLDER...: photos and paintings to set the INT8 ranges")
    family = loaders.detect_family(args.model)
    onnx_int8.check_offered(family)
    model = loaders.load_model(args.model, family)
    output = args.output or Path(model.paths[0]).with_name(onnx_int8.graph_name(model))
    _refuse_existing(output, args.overwrite)
    paths = [path for folder in args.calibrate for path in image_files(folder, "calibration")]
    images = [load_image(path, "calibration image").rgb for path in paths]
    return onnx_int8.quantise(model, images, output)


def _refuse_existing(path: Path, overwrite: bool) -> None:
    if path.exists() and not overwrite:
        raise RequestError(f"output {path} exists; pass --overwrite to replace it")


def run(args: argparse.Namespace, argv: list[str]) -> int:
    if args.int8:
        print(f"wrote {_export_int8(args)} (INT8; --backend onnx --precision int8 finds it beside the weights "
              "or in a model folder)")
        return 0
    for path in _export(args):
        print(f"wrote {path} (matches torch)")
    return 0
