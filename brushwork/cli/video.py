"""``brushwork video IN -o OUT [...]``: paint a clip, or a folder of frames, without flicker."""

from __future__ import annotations

import argparse
import dataclasses
from collections import deque
from pathlib import Path

from plugin_core.controls import CLIP_SUFFIXES, CONSISTENCY, DEFAULT_CRF, FOLDER_FPS, TEMPORAL_WEIGHT, check_method
from plugin_core.errors import RequestError

from . import options


def add_parser(commands, summary: str) -> None:
    v = commands.add_parser(
        "video", help=summary,
        description="Paint every frame of IN in the style of the --style images or --model networks, with the "
        "statistics smoothed over time and the previous frame carried along the optical flow (--consistency). "
        f"Reads and writes {' '.join(CLIP_SUFFIXES)} (H.264 in mp4/mov/mkv, VP9 in webm) or folders of frames; "
        "keeps the frame rate, the timestamps and the audio. Needs pip install 'brushwork[video]'.",
    )
    v.add_argument("input", type=Path, help="the clip, or a folder of frames")
    v.add_argument("--output", "-o", type=Path,
                   help="a video file, or a folder (no suffix) of PNG frames (default: IN_METHOD.mp4 beside IN)")
    v.add_argument("--consistency", default="flow", choices=CONSISTENCY,
                   help="off: frame by frame; stats: image-wide statistics smoothed over time; flow (default): "
                   "and the previous result carried along the optical flow")
    v.add_argument("--temporal-weight", type=float, default=TEMPORAL_WEIGHT, metavar="W",
                   help=f"0..1: how much a pixel keeps of the previous result where the flow holds "
                   f"(default {TEMPORAL_WEIGHT})")
    v.add_argument("--crf", type=int, default=DEFAULT_CRF,
                   help=f"H.264 quality, lower is better (default {DEFAULT_CRF})")
    v.add_argument("--fps", type=float, default=FOLDER_FPS,
                   help=f"frame rate of a folder of frames (default {FOLDER_FPS})")
    options.add_painting_options(v, size=0)


def _output(args: argparse.Namespace) -> Path:
    output = args.output or args.input.with_name(f"{args.input.stem}_{args.method}.mp4")
    if output.exists() and output.resolve() == args.input.resolve():
        raise RequestError(f"output {output} is the input; brushwork never overwrites its input")
    if output.exists() and not args.overwrite:
        raise RequestError(f"output {output} exists; pass --overwrite to replace it")
    return output


def run(args: argparse.Namespace, argv: list[str]) -> int:
    import torch  # the painting stack, loaded only to paint
    from tqdm import tqdm

    from plugin_core.image import fit_long_side
    from plugin_core.video.clip import Clip, ClipWriter, check_output
    from plugin_core.video.frames import stylize_frames

    from . import reading

    check_method(args.method)
    output = _output(args)
    wanted = reading.fields(args, [])
    clip = Clip(args.input, args.fps)
    try:
        size = clip.size if not args.size else fit_long_side(*clip.size, args.size)
        check_output(output, size)
        wanted = dataclasses.replace(wanted, masks=reading.load_masks(args, clip.size))
        request = reading.request(args, torch.zeros(1, 3, *clip.size), wanted)
        writer = ClipWriter(output, clip, size, args.crf)
        pending = deque()

        def requests():
            for frame in clip.frames(writer.audio_sink):
                pending.append(frame)
                yield dataclasses.replace(request, content=frame.image)

        bar = tqdm(total=clip.count, unit="frame", disable=args.quiet, leave=False)
        try:
            for result in stylize_frames(requests(), args.consistency, args.temporal_weight):
                writer.write(result, pending.popleft())
                bar.update(1)
            writer.close()
        except BaseException:
            writer.abandon()
            raise
        finally:
            bar.close()
    finally:
        clip.close()
    notes = "".join(f"; {note}" for note in writer.notes)
    print(f"wrote {output} ({writer.written} frames{notes})")
    return 0
