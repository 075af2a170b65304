"""``brushwork stylize CONTENT --style S [...] -o OUT``: paint a photo, or a folder of frames."""

from __future__ import annotations

import argparse
import dataclasses
from pathlib import Path

from plugin_core.controls import check_method
from plugin_core.errors import RequestError
from plugin_core.files import IMAGE_SUFFIXES, SAVE_FORMATS

from . import options


def add_parser(commands, summary: str) -> None:
    s = commands.add_parser(
        "stylize", help=summary,
        description="Paint CONTENT in the style of the --style images (gatys, adain, fast) or --model networks "
        "(feedforward). With one --mask per style, each style paints its own region; with a single --mask, "
        "all styles paint that region.",
    )
    s.add_argument("content", type=Path, help="the photo to stylize (with --batch: a folder of frames)")
    s.add_argument("--batch", action="store_true", help="CONTENT is a folder of frames; --output is a folder")
    s.add_argument("--output", "-o", type=Path, help="output file (.png, .jpg, .webp, .tif); with --batch a folder")
    options.add_painting_options(s)
    options.add_credentials_options(s)


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


def run(args: argparse.Namespace, argv: list[str]) -> int:
    from tqdm import tqdm  # the painting stack, loaded only to paint

    from plugin_core import api
    from plugin_core.image import load_image, resize, save_image

    from . import reading

    check_method(args.method)
    jobs = _jobs(args)
    bar = tqdm(total=len(jobs) if args.batch else None, unit="image", disable=args.quiet, leave=False)

    def progress(report: api.Progress) -> None:
        """One image's progress, in what the core counts for it (steps, tiles or frames)."""
        if args.batch:
            return
        bar.total, bar.unit = report.total, report.label
        if report.losses:
            bar.set_postfix(loss=f"{report.losses['total']:.3g}", refresh=False)
        bar.update(report.step - bar.n)

    wanted = reading.fields(args, [])  # styles are read once, masks at each content's size
    signing = reading.signing(args)
    try:
        for content_path, output in jobs:
            content = load_image(content_path, "content")
            masks = reading.load_masks(args, tuple(content.rgb.shape[-2:]))
            request = reading.request(args, content.rgb, dataclasses.replace(wanted, masks=masks), progress)
            result = api.stylize(request)
            alpha = None if content.alpha is None else resize(content.alpha, tuple(result.shape[-2:]))
            print(f"wrote {save_image(output, result, alpha, reading.parameters(args, content_path), signing)}")
            if args.batch:
                bar.update(1)
    finally:
        bar.close()
    return 0
