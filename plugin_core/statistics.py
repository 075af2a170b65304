"""Image-wide statistics, measured once and reused: what lets tiles of one image agree.

Instance normalisation and AdaIN divide by statistics of the whole image. A tile alone would
measure its own, and neighbouring tiles would disagree (seams). Under :func:`recording` every
:func:`shared` value is computed and kept; under :func:`replaying` the same calls, in the same
order, return the kept values instead. Recording a thumbnail of the image and replaying it in
every tile is thumbnail instance normalisation (Chen et al. 2021). Outside both, :func:`shared`
just computes.

Frames of a clip agree the same way over time: under :func:`over_time` each :func:`shared` value
is blended with the same value of the frames before, ``v_t = k v_{t-1} + (1 − k) x_t`` (an
exponential moving average with ``keep`` ``k``), so image-wide statistics drift instead of
flickering. A frame run in tiles records its smoothed values on its thumbnail, as any image does.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import TypeVar

import torch
import torch.nn.functional as F

T = TypeVar("T")


@dataclass
class Tape:
    """The values kept by one recording, and how many of them a replay has used."""

    values: list = field(default_factory=list)
    replayed: int | None = None


@dataclass
class History:
    """The smoothed values of the frames so far, by their place in a frame's sequence of :func:`shared` calls."""

    keep: float
    values: list = field(default_factory=list)
    position: int = 0

    def blend(self, value):
        """``value`` blended with the previous frames' value at this position (kept for the next frame)."""
        if self.position < len(self.values):
            value = _lerp(value, self.values[self.position], self.keep)
            self.values[self.position] = value
        else:
            self.values.append(value)
        self.position += 1
        return value


def _lerp(new, old, keep: float):
    """``keep · old + (1 − keep) · new`` over tensors and tuples of them."""
    if isinstance(new, torch.Tensor):
        if old.shape != new.shape:
            raise RuntimeError("a frame ran other layers than the frames before it")
        return torch.lerp(new, old.to(new), keep)
    return type(new)(_lerp(n, o, keep) for n, o in zip(new, old, strict=True))


_tape: ContextVar[Tape | None] = ContextVar("brushwork_statistics_tape", default=None)
_history: ContextVar[History | None] = ContextVar("brushwork_statistics_history", default=None)


def shared(compute: Callable[[], T]) -> T:
    """``compute()`` (over time: smoothed), or while replaying, the value it gave at this point of the recording."""
    tape = _tape.get()
    if tape is not None and tape.replayed is not None:
        if tape.replayed >= len(tape.values):
            raise RuntimeError("replayed past the recording: the tiles ran other layers than the thumbnail")
        tape.replayed += 1
        return tape.values[tape.replayed - 1]
    history = _history.get()
    value = compute() if history is None else history.blend(compute())
    if tape is not None:
        tape.values.append(value)
    return value


@contextmanager
def over_time(history: History) -> Iterator[None]:
    """Run one frame of a clip: its :func:`shared` values are blended with the frames' before it."""
    history.position = 0
    token = _history.set(history)
    try:
        yield
    finally:
        _history.reset(token)


@contextmanager
def recording() -> Iterator[Tape]:
    """Keep every :func:`shared` value computed inside."""
    tape = Tape()
    token = _tape.set(tape)
    try:
        yield tape
    finally:
        _tape.reset(token)


@contextmanager
def replaying(tape: Tape) -> Iterator[None]:
    """Hand out ``tape``'s values, from the first, to the :func:`shared` calls inside."""
    token = _tape.set(Tape(tape.values, replayed=0))
    try:
        yield
    finally:
        _tape.reset(token)


def moments(x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Per-image, per-channel ``(μ, σ²)`` (biased) over space, each ``[B,C,1,1]``, in float32."""
    var, mean = torch.var_mean(x.float(), dim=(2, 3), keepdim=True, correction=0)
    return mean, var


def instance_norm(
    x: torch.Tensor, weight: torch.Tensor | None = None, bias: torch.Tensor | None = None, eps: float = 1e-5
) -> torch.Tensor:
    """``γ (x − μ) / sqrt(σ² + ε) + β`` per image and channel, with :func:`shared` statistics.

    Untiled, a group norm with one channel per group (the same maths, the fastest kernel).
    """
    if _tape.get() is None and _history.get() is None:
        return F.group_norm(x, x.shape[1], weight, bias, eps)
    mean, var = shared(lambda: moments(x))
    scale = torch.rsqrt(var + eps)
    shift = -mean * scale
    if weight is not None:
        scale, shift = scale * weight.float()[:, None, None], shift * weight.float()[:, None, None]
    if bias is not None:
        shift = shift + bias.float()[:, None, None]
    return x * scale.to(x.dtype) + shift.to(x.dtype)
