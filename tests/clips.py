"""Test clips made from the example photos at test time: the motion in them is known exactly.

* a camera pan with a slow zoom across the photo;
* an object (a piece of the second painting) moving over a still background: occlusions.
"""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path

import av
import numpy as np
import torch

from plugin_core.image import resize

from .conftest import example

SIZE = (96, 192)
"""(height, width) of every frame."""
WINDOW = (240, 480)
"""(height, width) of the pan's window on the 720-pixel photo, before the zoom."""
STEP = 6
"""How far the pan's window moves each frame, in photo pixels."""


def pan(frames: int = 10, zoom: float = 0.99, size: tuple[int, int] = SIZE) -> list[torch.Tensor]:
    """The photo seen through a window that moves ``STEP`` pixels right and shrinks by ``zoom`` a frame,
    as frames of ``size``."""
    photo = example("photo.jpg", 720)
    height, width = WINDOW
    clip = []
    for index in range(frames):
        h, w = round(height * zoom**index), round(width * zoom**index)
        top, left = 40 + (height - h) // 2, 20 + index * STEP
        clip.append(resize(photo[..., top : top + h, left : left + w], size))
    return clip


def moving_object(frames: int = 10, step: int = 8) -> list[torch.Tensor]:
    """A 40-pixel square of the second painting crossing a still view of the photo."""
    background = resize(example("photo.jpg", 720)[..., 60:300, 100:580], SIZE)
    thing = resize(example("painting2.jpg", 256)[..., :80, :80], (40, 40))
    clip = []
    for index in range(frames):
        frame = background.clone()
        left = 10 + index * step
        frame[..., 28:68, left : left + 40] = thing
        clip.append(frame)
    return clip


def write(path: Path, frames: list[torch.Tensor], fps: int = 12, audio: bool = True,
          pts: list[int] | None = None) -> Path:
    """``frames`` as an H.264 clip (with a second of a 440 Hz tone when ``audio``); ``pts`` in 1/fps units."""
    with av.open(str(path), "w") as container:
        stream = container.add_stream("libx264", rate=fps)
        stream.height, stream.width = frames[0].shape[-2:]
        stream.pix_fmt = "yuv420p"
        stream.time_base = Fraction(1, fps)
        stream.options = {"crf": "12"}
        sound = container.add_stream("aac", rate=44100) if audio else None
        for index, frame in enumerate(frames):
            pixels = (frame[0] * 255).round().to(torch.uint8).permute(1, 2, 0).numpy()
            picture = av.VideoFrame.from_ndarray(np.ascontiguousarray(pixels), format="rgb24")
            picture.pts = index if pts is None else pts[index]
            container.mux(stream.encode(picture))
        container.mux(stream.encode(None))
        if sound is not None:
            tone = np.sin(2 * np.pi * 440 * np.arange(44100) / 44100).astype(np.float32)[None]
            samples = av.AudioFrame.from_ndarray(tone, format="fltp", layout="mono")
            samples.sample_rate, samples.pts = 44100, 0
            container.mux(sound.encode(samples))
            container.mux(sound.encode(None))
    return path
