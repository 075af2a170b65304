"""``brushwork train adain|feedforward|fast``: train a model on folders of images (resumable)."""

from __future__ import annotations

import argparse
import shlex
from pathlib import Path

from plugin_core import loaders, registry
from plugin_core.controls import PRECISIONS
from plugin_core.errors import RequestError
from plugin_core.networks import fast_arbitrary
from plugin_core.training import arbitrary, distill
from plugin_core.training import feedforward as ff_training
from plugin_core.training.data import Augment, ImageSet
from plugin_core.training.loop import TrainSettings, train

from .options import names

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


def add_parser(commands, summary: str) -> None:
    t = commands.add_parser("train", help=summary,
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
        f.add_argument("--max-grad-norm", type=float, metavar="NORM",
                       help="scale each step's gradient down to this L2 norm where it is longer (default: no limit)")
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
        if family == "fast":
            f.add_argument("--channels", type=widths, default=fast_arbitrary.CHANNELS, metavar="C,C,C",
                           help="the network's width: channels after its stem and its two downsamplings "
                                f"(default {','.join(map(str, fast_arbitrary.CHANNELS))}); with --init of a "
                                "narrower model, that model widened so that it paints the same at the start")
        if family != "adain":
            f.add_argument("--teacher", metavar="MODEL",
                           help="learn to paint what this AdaIN model paints (distillation) instead of "
                                "learning the style loss itself")
            f.add_argument("--statistics-weight", type=float, default=0.0, metavar="W",
                           help="with --teacher: weight of matching the mean/std of relu1_1..relu4_1 of the "
                                "teacher's image (its texture energy; default 0)")
        if family == "adain":
            f.add_argument("--content-layers", type=names, default=arbitrary.ADAIN_CONTENT_LAYERS, metavar="L,L",
                           help="layers whose AdaIN targets the output must match (default relu4_1, as "
                                "Huang & Belongie; relu3_1,relu4_1 keeps more of the photo's structure)")
            f.add_argument("--decoder", default=arbitrary.DECODERS[0], choices=arbitrary.DECODERS,
                           help="skip: brushwork's decoder reading relu1_1..relu4_1 (default); "
                                "classic: the published relu4_1-only layout")
        if family != "feedforward":
            f.add_argument("--gram-weight", type=float, default=0.0, metavar="W",
                           help="weight of matching the style crop's Gram matrices on relu1_1..relu4_1: its "
                                "texture, not only its palette (default 0; fast: with --teacher)")
            f.add_argument("--style-augment", type=float, default=0.0, metavar="P",
                           help="give a style crop a random hue, saturation and contrast with probability P, and "
                                "flip it upside down half the time (default 0: off)")


def widths(text: str) -> tuple[int, int, int]:
    """``--channels 24,48,96``: three positive channel counts."""
    try:
        channels = tuple(int(part) for part in text.split(","))
    except ValueError:
        channels = ()
    if len(channels) != 3 or min(channels) < 1:
        raise argparse.ArgumentTypeError(f"channels must be three positive numbers like 24,48,96, not {text!r}")
    return channels


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


def _train(args: argparse.Namespace, argv: list[str]) -> tuple[Path, int]:
    family = "fast" if args.family == "fast-arbitrary" else args.family
    settings = TrainSettings(
        steps=args.steps, batch=args.batch, size=args.size, learning_rate=args.lr, lr_decay=args.lr_decay,
        max_grad_norm=args.max_grad_norm,
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
        augment = Augment(colour=args.style_augment) if args.style_augment else None
        if family == "adain":
            task = arbitrary.AdaINTask(content, styles, args.style_weight, decoder=args.decoder,
                                       content_layers=args.content_layers, gram_weight=args.gram_weight,
                                       augment=augment)
        elif teacher is not None:
            task = distill.FastDistillTask(content, styles, teacher, statistics_weight=args.statistics_weight,
                                           augment=augment, gram_weight=args.gram_weight, channels=args.channels)
        else:
            task = arbitrary.FastTask(content, styles, args.style_weight, augment=augment, channels=args.channels)
        name = args.name or family
    run = args.run or Path("runs") / name
    stop_after_s = None if args.stop_after is None else args.stop_after * 60
    return train(task, settings, run, name, recorded_command(argv), args.quiet, stop_after_s=stop_after_s,
                 init=args.init)


def run(args: argparse.Namespace, argv: list[str]) -> int:
    path, step = _train(args, argv)
    if step < args.steps:
        print(f"stopped at step {step} of {args.steps}; the same command goes on from there")
    print(f"wrote {path} and its model card {path.with_suffix('.md')}; use it with --model {path} "
          f"or copy both into {registry.PROJECT_MODELS} or a folder of ${registry.ENVIRONMENT_VARIABLE}")
    return 0
