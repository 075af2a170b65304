"""Clips in and out through PyAV (FFmpeg inside its wheels), or folders of frames, one frame at a time.

Reading keeps each frame's timestamp, so a variable frame rate survives; writing puts the frames
back at those timestamps with the input's time base, copies the audio stream when the container can
hold it, and goes to a temporary file beside the output that replaces it only when complete.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import numpy as np
import torch

from ..controls import DEFAULT_CRF, FOLDER_FPS
from ..errors import ImageError, RequestError
from ..files import IMAGE_SUFFIXES
from ..image import load_image, save_image

CONTAINERS = {  # suffix: (FFmpeg format, video codec, pixel format, audio codecs the container takes)
    ".mp4": ("mp4", "libx264", "yuv420p", {"aac", "mp3", "alac", "opus"}),
    ".mov": ("mov", "libx264", "yuv420p", {"aac", "mp3", "alac", "pcm_s16le"}),
    ".mkv": ("matroska", "libx264", "yuv420p", None),
    ".webm": ("webm", "libvpx-vp9", "yuv420p", {"opus", "vorbis"}),
    ".gif": ("gif", "gif", "rgb8", set()),
}
"""``None``: any audio codec."""
FALLBACK_CODEC = "mpeg4"
"""MPEG-4 Part 2, built into every FFmpeg, for a PyAV whose FFmpeg lacks the container's usual encoder."""


def _av():
    try:
        import av
    except ImportError:
        raise RequestError("video needs PyAV: pip install 'brushwork[video]'") from None
    return av


@dataclass(frozen=True)
class Frame:
    """One decoded frame: pixels ``[1,3,H,W]`` in 0..1, and when it is shown (``pts`` in ``time_base`` units)."""

    image: torch.Tensor
    pts: int
    time_base: Fraction


class Clip:
    """A clip to read: a video file or a folder of frames (``fps`` for the folder)."""

    def __init__(self, path: Path, fps: float = FOLDER_FPS):
        self.path = path
        if path.is_dir():
            self.files = sorted(p for p in path.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES and p.is_file())
            if not self.files:
                raise RequestError(f"folder {path} holds no frames ({', '.join(IMAGE_SUFFIXES)})")
            self.fps, self.count, self.audio = Fraction(fps).limit_denominator(1001), len(self.files), None
            self.time_base = 1 / self.fps
            self.size = tuple(load_image(self.files[0], "frame").rgb.shape[-2:])
            return
        if not path.is_file():
            raise RequestError(f"clip {path} does not exist")
        av = _av()
        self.files = None
        try:
            self.container = av.open(str(path))
        except (av.error.FFmpegError, UnicodeDecodeError) as error:
            raise ImageError(f"clip {path} is not a video FFmpeg can read ({error})") from None
        if not self.container.streams.video:
            self.container.close()
            raise ImageError(f"{path} has no video stream")
        stream = self.container.streams.video[0]
        self.fps = stream.average_rate or stream.guessed_rate or Fraction(FOLDER_FPS)
        self.time_base = stream.time_base or 1 / self.fps
        self.count = stream.frames or None
        self.size = (stream.height, stream.width)
        self.audio = self.container.streams.audio[0] if self.container.streams.audio else None

    def frames(self, audio_sink=None) -> Iterator[Frame]:
        """The frames in order; audio packets met on the way go to ``audio_sink`` (when given)."""
        if self.files is not None:
            for index, file in enumerate(self.files):
                yield Frame(load_image(file, "frame").rgb, index, self.time_base)
            return
        av = _av()
        streams = [self.container.streams.video[0]] + ([self.audio] if self.audio is not None and audio_sink else [])
        decoded = 0
        try:
            for packet in self.container.demux(streams):
                if packet.stream.type == "audio":
                    if packet.dts is not None:
                        audio_sink(packet)
                    continue
                for frame in packet.decode():
                    pixels = torch.from_numpy(frame.to_ndarray(format="rgb24")).permute(2, 0, 1)[None]
                    pts = frame.pts if frame.pts is not None else decoded
                    decoded += 1
                    yield Frame(pixels.float() / 255, pts, frame.time_base or self.time_base)
        except av.error.FFmpegError as error:
            raise ImageError(f"clip {self.path} is damaged at frame {decoded + 1} ({error})") from None
        if decoded == 0:
            raise ImageError(f"clip {self.path} has no frames")
        if self.count and decoded < self.count:
            raise ImageError(f"clip {self.path} is truncated: {self.count} frames announced, {decoded} decoded")

    def close(self) -> None:
        if self.files is None:
            self.container.close()


def check_output(path: Path, size: tuple[int, int]) -> None:
    """Refuse, before any work, an output that cannot be written: an unknown suffix, an odd size for a
    4:2:0 codec, a missing folder."""
    if path.suffix.lower() not in CONTAINERS and path.suffix:
        raise RequestError(f"cannot write {path}: use one of {', '.join(CONTAINERS)}, or a folder of frames")
    if not path.parent.is_dir():
        raise RequestError(f"cannot write {path}: folder {path.parent} does not exist")
    if not os.access(path.parent, os.W_OK):
        raise RequestError(f"cannot write {path}: folder {path.parent} is not writable")
    height, width = size
    if path.suffix and CONTAINERS[path.suffix.lower()][2] == "yuv420p" and (height % 2 or width % 2):
        raise RequestError(
            f"the frames are {width}x{height}, and {path.suffix} video in 4:2:0 needs even sides: "
            "pass a --size that gives even sides, or write a .gif or a folder of frames"
        )


class ClipWriter:
    """Frames out to ``path`` (a video file, or a folder of PNG frames when it has no suffix)."""

    def __init__(self, path: Path, clip: Clip, size: tuple[int, int], crf: int = DEFAULT_CRF):
        self.path, self.folder = path, not path.suffix
        self.written = 0
        self.notes: list[str] = []
        if self.folder:
            self.temporary = Path(tempfile.mkdtemp(prefix=f".{path.name}-", dir=path.parent))
            return
        av = _av()
        fmt, codec, pixels, audio_codecs = CONTAINERS[path.suffix.lower()]
        if codec not in av.codecs_available:
            self.notes.append(f"this FFmpeg has no {codec} encoder: the video is {FALLBACK_CODEC} instead")
            codec = FALLBACK_CODEC
        handle, name = tempfile.mkstemp(prefix=f".{path.stem}-", suffix=path.suffix, dir=path.parent)
        os.close(handle)
        self.temporary = Path(name)
        self.container = av.open(name, "w", format=fmt)
        self.stream = self.container.add_stream(codec, rate=clip.fps)
        self.stream.height, self.stream.width = size
        self.stream.pix_fmt = pixels
        self.stream.time_base = clip.time_base
        if codec == "libx264":
            self.stream.options = {"crf": str(crf)}
        self.audio = None
        if clip.audio is not None:
            name = clip.audio.codec_context.name
            if audio_codecs is None or name in audio_codecs:
                self.audio = self.container.add_stream_from_template(clip.audio)
            else:
                self.notes.append(f"the {name} audio was left out: {path.suffix} cannot hold it")

    def write(self, image: torch.Tensor, frame: Frame) -> None:
        if self.folder:
            save_image(self.temporary / f"{self.written:06d}.png", image)
        else:
            av = _av()
            pixels = (image[0].clamp(0, 1) * 255).round().to(torch.uint8).permute(1, 2, 0).numpy()
            out = av.VideoFrame.from_ndarray(np.ascontiguousarray(pixels), format="rgb24")
            out.pts, out.time_base = frame.pts, frame.time_base
            for packet in self.stream.encode(out):
                self.container.mux(packet)
        self.written += 1

    def audio_sink(self, packet) -> None:
        """Copy an audio packet of the input (dropped when the output takes no audio)."""
        if self.audio is not None:
            packet.stream = self.audio
            self.container.mux(packet)

    def close(self) -> None:
        """Finish the file (or folder) and put it in place of any earlier one."""
        if self.folder:
            if self.path.is_dir():
                shutil.rmtree(self.path)
        else:
            for packet in self.stream.encode(None):
                self.container.mux(packet)
            self.container.close()
        self.temporary.replace(self.path)

    def abandon(self) -> None:
        """Remove what was written: no half-written output is ever left."""
        if self.folder:
            shutil.rmtree(self.temporary, ignore_errors=True)
            return
        try:
            self.container.close()
        except Exception:  # noqa: BLE001 - the file is thrown away whatever state the muxer is in
            pass
        self.temporary.unlink(missing_ok=True)
