"""``brushwork`` command line: ``brushwork stylize CONTENT --style S [...] -o OUT``, ``brushwork models``,
``brushwork train``, ``brushwork export onnx`` and ``brushwork gimp``."""

from __future__ import annotations

import argparse
import shlex
import sys
import warnings
from pathlib import Path

from tqdm import tqdm

from . import __version__, api, loaders, onnx_backend, registry
from .devices import PRECISIONS
from .errors import BrushworkError, RequestError
from .image import IMAGE_SUFFIXES, SAVE_FORMATS, load_image, resize, save_image
from .masks import load_mask
from .methods.gatys import INITS, OPTIMIZERS, GatysSettings
from .regions import Region, Style
from .training import arbitrary, distill
from .training import feedforward as ff_training
from .training.data import ImageSet
from .training.loop import TrainSettings, train

EXIT_BAD_INPUT = 2


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="brushwork", description="Neural style transfer for designers.")
    parser.add_argument("--version", action="version", version=f"brushwork {__version__}")
    commands = parser.add_subparsers(dest="command", required=True)
    s = commands.add_parser(
        "stylize",
        help="paint a photo in the style of one or more images or models",
        description="Paint CONTENT in the style of the --style images (gatys, adain, fast) or --model networks "
        "(feedforward). With one --mask per style, each style paints its own region; with a single --mask, "
        "all styles paint that region.",
    )
    s.add_argument("content", type=Path, help="the photo to stylize (with --batch: a folder of frames)")
    s.add_argument("--method", default=api.DEFAULT_METHOD,
                   help=f"one of {', '.join(api.METHODS)} (default {api.DEFAULT_METHOD})")
    s.add_argument("--style", "-s", type=Path, action="append", default=[], help="style image (repeatable)")
    s.add_argument("--model", action="append", default=[], metavar="NAME_OR_PATH",
                   help="adain: the decoder; fast: the fast model (default: the installed one); "
                   "feedforward: a style model "
                   "(repeatable, one per region). See `brushwork models list`")
    s.add_argument("--style-weight", type=float, action="append", default=[], metavar="W",
                   help="weight of the matching style (repeatable, default 1 each)")
    s.add_argument("--mask", "-m", type=Path, action="append", default=[],
                   help="where the style applies: alpha or grey image, white = styled (one, or one per style)")
    s.add_argument("--strength", "--alpha", type=float, dest="strength",
                   help="0 = photo, 1 = all style (default: gatys 0.5, adain, feedforward and fast 1)")
    s.add_argument("--size", type=int, default=512,
                   help="long side of the working and output image (default 512; 0: the photo's own size)")
    s.add_argument("--style-size", type=int,
                   help="long side of the style images (default: the content's pixel count; tiled: the tile side)")
    s.add_argument("--tile", type=_tile, default=None, metavar="auto|off|N",
                   help="process large images in tiles of N pixels (default auto: when free memory calls for it)")
    s.add_argument("--color", default="none", choices=api.COLOR_MODES, help="keep the photo's colours")
    s.add_argument("--color-when", default="after", choices=api.COLOR_WHEN,
                   help="recolour the styles before transfer, or the result after (default after)")
    s.add_argument("--feather", type=float, default=0.0, help="soften mask edges by this many pixels")
    s.add_argument("--batch", action="store_true", help="CONTENT is a folder of frames; --output is a folder")
    s.add_argument("--device", default="auto", help="auto, cpu or cuda[:N]")
    s.add_argument("--backend", default="torch", choices=onnx_backend.BACKENDS,
                   help="onnx: run adain, fast and feedforward on onnxruntime (pip install 'brushwork[onnx]')")
    s.add_argument("--precision", default="auto", choices=PRECISIONS,
                   help="number format of the one-pass networks (auto: bfloat16 where native)")
    s.add_argument("--output", "-o", type=Path, help="output file (.png, .jpg, .webp, .tif); with --batch a folder")
    s.add_argument("--overwrite", action="store_true", help="replace existing output files")
    s.add_argument("--quiet", "-q", action="store_true", help="no progress bar")
    g = s.add_argument_group("Gram optimisation (--method gatys)")
    g.add_argument("--steps", type=int, default=200, help="optimisation steps over all scales (default 200)")
    g.add_argument("--content-layers", type=_names, default=GatysSettings.content_layers, metavar="L,L",
                   help="VGG19 layers matched to the photo (default relu4_2)")
    g.add_argument("--style-layers", type=_names, default=GatysSettings.style_layers, metavar="L,L",
                   help="VGG19 layers whose Gram matrices match the style (default relu1_1,...,relu5_1)")
    g.add_argument("--style-layer-weights", type=_numbers, metavar="W,W",
                   help="one weight per style layer (default equal)")
    g.add_argument("--tv-weight", type=float, default=GatysSettings.tv_weight, help="total-variation weight")
    g.add_argument("--optimizer", default="lbfgs", choices=OPTIMIZERS)
    g.add_argument("--scales", type=int, default=GatysSettings.scales, help="coarse-to-fine levels (default 3)")
    g.add_argument("--init", default="content", help=f"{', '.join(INITS)} or an image file")
    g.add_argument("--seed", type=int, default=0)

    m = commands.add_parser("models", help="list, download and verify model weights")
    actions = m.add_subparsers(dest="action", required=True)
    actions.add_parser("list", help="known models, where each is installed, and other weight files found")
    d = actions.add_parser("download", help="download known models into the user cache, checking their sha256")
    d.add_argument("names", nargs="+", metavar="NAME")
    d.add_argument("--quiet", "-q", action="store_true", help="no progress bar")
    v = actions.add_parser("verify", help="check installed files against the manifest's sha256")
    v.add_argument("names", nargs="*", metavar="NAME")
    _train_parser(commands)
    e = commands.add_parser("export", help="export a model for other runtimes")
    formats = e.add_subparsers(dest="format", required=True)
    o = formats.add_parser("onnx", help="write a model's ONNX graphs, checked against torch",
                           description="Write an AdaIN, fast or feed-forward model as float32 ONNX graphs with "
                           "dynamic batch, height and width (AdaIN and fast: a companion graph, NAME.encoder.onnx "
                           "or NAME.style.onnx, goes beside). Needs pip install 'brushwork[onnx]'.")
    o.add_argument("model", metavar="NAME_OR_PATH", help="a model name from `brushwork models list`, or a file")
    o.add_argument("--output", "-o", type=Path, help="the .onnx file to write (default: the model's name, here)")
    o.add_argument("--overwrite", action="store_true", help="replace existing files")
    g = commands.add_parser("gimp", help="install, remove or check the GIMP 3 filter (Filters > Artistic)")
    steps = g.add_subparsers(dest="action", required=True)
    for action, text in (("install", "copy the plug-in into GIMP's profile and point it at this Python"),
                         ("uninstall", "remove the plug-in from GIMP's profile"),
                         ("doctor", "check GIMP's folder, the plug-in, its config, the worker and the weights")):
        a = steps.add_parser(action, help=text, description=text)
        a.add_argument("--gimp-dir", type=Path, help="GIMP's profile folder (default: every GIMP 3.0/3.2 one found)")
    return parser


def _train_parser(commands) -> None:
    t = commands.add_parser("train", help="train an AdaIN decoder, a feed-forward style or a fast arbitrary model",
                            description="Train on folders of images; the run folder keeps a checkpoint, so the same "
                            "command resumes an interrupted run (or continues it with more --steps).")
    families = t.add_subparsers(dest="family", required=True)
    for family, style_help in (
        ("adain", "folder of style images (paintings)"),
        ("feedforward", "the one style image this network learns"),
        ("fast", "folder of style images (paintings)"),
    ):
        defaults = TRAIN_DEFAULTS[family]
        f = families.add_parser(family, aliases=["fast-arbitrary"] if family == "fast" else [],
                                help=TRAIN_HELP[family], description=TRAIN_HELP[family])
        f.add_argument("--content", type=Path, required=True, help="folder of content images (photos)")
        f.add_argument("--style", type=Path, required=True, help=style_help)
        f.add_argument("--name", help="model name (default: the family, or the style image's stem)")
        f.add_argument("--exclude-licence", action="append", default=[], metavar="LICENCE",
                       help="leave out images under this licence in the data manifest (repeatable), "
                            "e.g. one whose terms the weights' licence cannot honour")
        f.add_argument("--run", type=Path, help="run folder for checkpoint, logs and export (default runs/NAME)")
        f.add_argument("--steps", type=int, default=defaults["steps"], help=f"default {defaults['steps']}")
        f.add_argument("--batch", type=int, default=8, help="crops per step (default 8)")
        f.add_argument("--size", type=int, default=256, help="side of the square training crops (default 256)")
        f.add_argument("--lr", type=float, default=defaults["lr"], help=f"learning rate (default {defaults['lr']})")
        f.add_argument("--lr-decay", type=float, default=TrainSettings.lr_decay,
                       help="lr / (1 + decay * step) (default %(default)s)")
        f.add_argument("--checkpoint-every", type=int, default=TrainSettings.checkpoint_every, metavar="N")
        f.add_argument("--log-every", type=int, default=TrainSettings.log_every, metavar="N")
        f.add_argument("--seed", type=int, default=0)
        f.add_argument("--device", default="auto", help="auto, cpu or cuda[:N]")
        f.add_argument("--precision", default="auto", choices=PRECISIONS,
                       help="autocast dtype (auto: bfloat16 where the CPU or GPU computes it natively); "
                            "float32 is the exact path")
        f.add_argument("--init", type=Path, metavar="FILE",
                       help="start a new run's network from this exported model (e.g. runs/NAME/NAME.safetensors)")
        f.add_argument("--stop-after", type=float, metavar="MINUTES",
                       help="checkpoint, export and stop after this long; the same command goes on from there")
        f.add_argument("--quiet", "-q", action="store_true", help="no progress bar")
        if family == "feedforward":
            f.add_argument("--style-size", type=int, default=ff_training.STYLE_SIZE,
                           help="long side the style image is read at (default %(default)s)")
            f.add_argument("--content-weight", type=float, default=ff_training.CONTENT_WEIGHT)
            f.add_argument("--style-weight", type=float, default=ff_training.STYLE_WEIGHT)
            f.add_argument("--tv-weight", type=float, default=ff_training.TV_WEIGHT)
        else:
            f.add_argument("--style-weight", type=float, default=arbitrary.STYLE_WEIGHT,
                           help="λ of L_content + λ L_style (default %(default)s)")
        if family != "adain":
            f.add_argument("--teacher", metavar="MODEL",
                           help="learn to paint what this AdaIN model paints (distillation) instead of "
                                "learning the style loss itself")
            f.add_argument("--statistics-weight", type=float, default=0.0, metavar="W",
                           help="with --teacher: weight of matching the mean/std of relu1_1..relu4_1 of the "
                                "teacher's image (its texture energy; default 0)")
        if family == "adain":
            f.add_argument("--content-layers", type=_names, default=arbitrary.ADAIN_CONTENT_LAYERS, metavar="L,L",
                           help="layers whose AdaIN targets the output must match (default relu4_1, as "
                                "Huang & Belongie; relu3_1,relu4_1 keeps more of the photo's structure)")
            f.add_argument("--decoder", default=arbitrary.DECODERS[0], choices=arbitrary.DECODERS,
                           help="skip: brushwork's decoder reading relu1_1..relu4_1 (default); "
                                "classic: the published relu4_1-only layout")


TRAIN_HELP = {
    "adain": "an AdaIN decoder for brushwork's VGG19 (Huang & Belongie 2017)",
    "feedforward": "a feed-forward network for one style (Johnson et al. 2016)",
    "fast": "brushwork's small arbitrary-style network (no VGG when it runs)",
}
TRAIN_DEFAULTS = {
    "adain": {"steps": 20000, "lr": 1e-4},
    "feedforward": {"steps": 10000, "lr": 1e-3},
    "fast": {"steps": 30000, "lr": 5e-4},
}


def _tile(text: str) -> int | None:
    """``auto`` -> None (the core decides), ``off`` -> 0, else a tile side in pixels."""
    if text in ("auto", "off"):
        return None if text == "auto" else 0
    try:
        return int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"tile must be auto, off or a number of pixels, not {text!r}") from None


def _names(text: str) -> tuple[str, ...]:
    return tuple(name.strip() for name in text.split(",") if name.strip())


def _numbers(text: str) -> tuple[float, ...]:
    try:
        return tuple(float(value) for value in _names(text))
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected comma-separated numbers, got {text!r}") from None


def default_output(content: Path, method: str) -> Path:
    """``photo_METHOD.png`` next to the photo; ``photo_METHOD-2.png`` and on when that exists."""
    candidate = content.with_name(f"{content.stem}_{method}.png")
    number = 2
    while candidate.exists():
        candidate = content.with_name(f"{content.stem}_{method}-{number}.png")
        number += 1
    return candidate


def _check_output(output: Path, content: Path, overwrite: bool) -> None:
    if output.suffix.lower() not in SAVE_FORMATS:
        raise RequestError(f"cannot write {output}: use one of {', '.join(sorted(SAVE_FORMATS))}")
    if output.exists() and output.resolve() == content.resolve():
        raise RequestError(f"output {output} is the content image; brushwork never overwrites its input")
    if output.exists() and not overwrite:
        raise RequestError(f"output {output} exists; pass --overwrite to replace it")
    if not output.parent.is_dir():
        raise RequestError(f"cannot write {output}: folder {output.parent} does not exist")


def _jobs(args: argparse.Namespace) -> list[tuple[Path, Path]]:
    """``(content, output)`` pairs: one, or with ``--batch`` every frame of the folder, all checked first."""
    if not args.batch:
        output = args.output or default_output(args.content, args.method)
        _check_output(output, args.content, args.overwrite)
        return [(args.content, output)]
    if not args.content.is_dir():
        raise RequestError(f"--batch needs a folder of frames; {args.content} is not a folder")
    frames = sorted(p for p in args.content.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES and p.is_file())
    if not frames:
        raise RequestError(f"folder {args.content} holds no images ({', '.join(IMAGE_SUFFIXES)})")
    folder = args.output or args.content.with_name(f"{args.content.name}_{args.method}")
    if folder.resolve() == args.content.resolve():
        raise RequestError(f"output folder {folder} is the frames' folder; brushwork never overwrites its input")
    if not folder.parent.is_dir():
        raise RequestError(f"cannot write into {folder}: folder {folder.parent} does not exist")
    jobs = [(frame, folder / f"{frame.stem}.png") for frame in frames]
    clashes = [output for _, output in jobs if output.exists()]
    if clashes and not args.overwrite:
        raise RequestError(f"output {clashes[0]} exists; pass --overwrite to replace it")
    folder.mkdir(exist_ok=True)
    return jobs


def _styles(args: argparse.Namespace) -> list[Style]:
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


def _regions(styles: list[Style], mask_paths: list[Path], size: tuple[int, int]) -> list[Region]:
    masks = [load_mask(path, size) for path in mask_paths]
    if not masks:
        return [Region(styles)]
    if len(masks) == 1:
        return [Region(styles, masks[0])]
    if len(masks) == len(styles):
        return [Region([style], mask) for style, mask in zip(styles, masks, strict=True)]
    raise RequestError(f"{len(masks)} --mask for {len(styles)} styles: give one mask, or one per style")


def _arbitrary_model(args: argparse.Namespace) -> str | None:
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


def _parameters(args: argparse.Namespace, content: Path) -> dict:
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
        model = _arbitrary_model(args)
        return parameters | {"model": model, "style_size": args.style_size, "precision": args.precision,
                             "backend": args.backend}
    return parameters | {
        "steps": args.steps, "seed": args.seed, "tv_weight": args.tv_weight, "optimizer": args.optimizer,
        "init": args.init, "content_layers": list(args.content_layers), "style_layers": list(args.style_layers),
        "style_layer_weights": args.style_layer_weights,
    }


def stylize_command(args: argparse.Namespace) -> list[Path]:
    if args.method not in api.METHODS:
        raise RequestError(f"unknown method {args.method!r}: use one of {', '.join(api.METHODS)}")
    jobs = _jobs(args)
    settings = GatysSettings(
        tv_weight=args.tv_weight, optimizer=args.optimizer, scales=args.scales, init=_init(args.init),
        content_layers=args.content_layers, style_layers=args.style_layers,
        style_layer_weights=args.style_layer_weights,
    )
    styles = _styles(args)
    written = []
    unit = "frame" if args.batch else "step" if args.method == "gatys" else "tile"
    bar = tqdm(total=len(jobs) if args.batch else args.steps, unit=unit, disable=args.quiet, leave=False)

    def progress(report: api.Progress) -> None:
        if args.batch:
            return
        bar.total = report.total
        if report.losses:
            bar.set_postfix(loss=f"{report.losses['total']:.3g}", refresh=False)
        bar.update(report.step - bar.n)

    try:
        for content_path, output in jobs:
            content = load_image(content_path, "content")
            request = api.StyleRequest(
                content.rgb, _regions(styles, args.mask, tuple(content.rgb.shape[-2:])), method=args.method,
                strength=args.strength, model=_arbitrary_model(args), color=args.color, color_when=args.color_when,
                size=args.size or None, style_size=args.style_size, tile=args.tile, steps=args.steps, seed=args.seed,
                device=args.device, precision=args.precision, backend=args.backend, feather=args.feather,
                gatys=settings, progress=progress,
            )
            result = api.stylize(request)
            alpha = None if content.alpha is None else resize(content.alpha, tuple(result.shape[-2:]))
            written.append(save_image(output, result, alpha, _parameters(args, content_path)))
            if args.batch:
                bar.update(1)
    finally:
        bar.close()
    return written


def models_command(args: argparse.Namespace) -> int:
    if args.action == "list":
        manifest = registry.read_manifest()
        print("searched, in order: " + ", ".join(str(folder) for folder in registry.search_dirs()))
        for model in manifest.values():
            found = [registry.find_file(file.name) for file in model.files]
            where = "missing" if None in found else "installed in " + ", ".join(sorted({str(p.parent) for p in found}))
            print(f"{model.name:16} {model.family:12} {where}\n{'':29}{model.description}. Licence: {model.licence}")
        for path in registry.other_files(manifest):
            print(f"{path.stem:16} {'(own file)':12} {path}")
        return 0
    if args.action == "download":
        for name in args.names:
            for path in registry.download(name, quiet=args.quiet):
                print(f"{name}: {path}")
        return 0
    checks = registry.verify(args.names)
    for check in checks:
        detail = f" ({check.detail})" if check.detail else ""
        print(f"{check.model:16} {check.file:20} {check.status}{detail}{f'  {check.path}' if check.path else ''}")
    return 1 if any(check.status == "mismatch" for check in checks) else 0


RUN_ONLY_OPTIONS = {"--stop-after": 1, "--quiet": 0, "-q": 0}
"""Options of ``brushwork train`` that change how long a call runs or what it prints, not what it
learns (with the number of values each takes): left out of the command a model card records, so
a run resumed in chunks is one phase."""


def recorded_command(argv: list[str]) -> str:
    """``brushwork train ...`` as ``argv`` asked for it, less :data:`RUN_ONLY_OPTIONS`."""
    kept, skip = [], 0
    for arg in argv:
        if skip:
            skip -= 1
        elif arg.split("=")[0] in RUN_ONLY_OPTIONS:
            skip = 0 if "=" in arg else RUN_ONLY_OPTIONS[arg]
        else:
            kept.append(arg)
    return "brushwork " + shlex.join(kept)


def train_command(args: argparse.Namespace, argv: list[str]) -> tuple[Path, int]:
    family = "fast" if args.family == "fast-arbitrary" else args.family
    settings = TrainSettings(
        steps=args.steps, batch=args.batch, size=args.size, learning_rate=args.lr, lr_decay=args.lr_decay,
        checkpoint_every=args.checkpoint_every, log_every=args.log_every, seed=args.seed, device=args.device,
        precision=args.precision,
    )
    content = ImageSet.from_folder(args.content, "content", args.exclude_licence)
    teacher = None if family == "adain" or args.teacher is None else loaders.load_model(args.teacher, "adain")
    if family == "feedforward":
        if not args.style.is_file():
            raise RequestError(f"feedforward learns one style image; {args.style} is not a file")
        if teacher is not None:
            task = distill.FeedForwardDistillTask(content, args.style, teacher,
                                                  statistics_weight=args.statistics_weight)
        else:
            weights = (args.content_weight, args.style_weight, args.tv_weight)
            task = ff_training.FeedForwardTask(content, args.style, args.style_size, weights)
        name = args.name or args.style.stem
    else:
        styles = ImageSet.from_folder(args.style, "style", args.exclude_licence)
        if family == "adain":
            task = arbitrary.AdaINTask(content, styles, args.style_weight, decoder=args.decoder,
                                       content_layers=args.content_layers)
        elif teacher is not None:
            task = distill.FastDistillTask(content, styles, teacher, statistics_weight=args.statistics_weight)
        else:
            task = arbitrary.FastTask(content, styles, args.style_weight)
        name = args.name or family
    run = args.run or Path("runs") / name
    stop_after_s = None if args.stop_after is None else args.stop_after * 60
    return train(task, settings, run, name, recorded_command(argv), args.quiet, stop_after_s=stop_after_s,
                 init=args.init)


def gimp_command(args: argparse.Namespace) -> int:
    from gimp_plugin import bridge  # the GIMP adapter, only for this command

    if args.action == "install":
        for path in bridge.install(args.gimp_dir):
            print(f"installed {path}; restart GIMP and find it under Filters > Artistic > Style Transfer...")
        return 0
    if args.action == "uninstall":
        removed = bridge.uninstall(args.gimp_dir)
        print("\n".join(f"removed {folder}" for folder in removed) or "the plug-in was not installed")
        return 0
    checks = bridge.doctor(args.gimp_dir)
    for check in checks:
        print(f"{'ok' if check.ok else 'PROBLEM':8} {check.what:14} {check.detail}")
    return 0 if all(check.ok for check in checks) else 1


def export_command(args: argparse.Namespace) -> list[Path]:
    onnx_backend.check_installed()
    family = loaders.detect_family(args.model)
    output = args.output or Path(f"{Path(args.model).stem}.onnx")
    for suffix in onnx_backend.GRAPHS[family]:
        path = output.with_name(output.stem + suffix + ".onnx")
        if path.exists() and not args.overwrite:
            raise RequestError(f"output {path} exists; pass --overwrite to replace it")
    return onnx_backend.export(loaders.load_model(args.model, family), output)


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    args = _parser().parse_args(argv)
    with warnings.catch_warnings():
        warnings.simplefilter("always")
        warnings.showwarning = lambda message, *_rest, **_kw: print(f"brushwork: warning: {message}", file=sys.stderr)
        try:
            if args.command == "models":
                return models_command(args)
            if args.command == "gimp":
                return gimp_command(args)
            if args.command == "export":
                for path in export_command(args):
                    print(f"wrote {path} (matches torch)")
                return 0
            if args.command == "train":
                path, step = train_command(args, argv)
                if step < args.steps:
                    print(f"stopped at step {step} of {args.steps}; the same command goes on from there")
                print(f"wrote {path} and its model card {path.with_suffix('.md')}; use it with --model {path} "
                      f"or copy both into {registry.PROJECT_MODELS} or a folder of ${registry.ENVIRONMENT_VARIABLE}")
                return 0
            for path in stylize_command(args):
                print(f"wrote {path}")
        except BrushworkError as error:
            print(f"brushwork: error: {error}", file=sys.stderr)
            return EXIT_BAD_INPUT
        except KeyboardInterrupt:
            print("brushwork: interrupted; no partial file written", file=sys.stderr)
            return 130
    return 0


if __name__ == "__main__":
    sys.exit(main())
