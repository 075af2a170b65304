"""Image-wide statistics, measured once and reused: what lets tiles of one image agree.

Instance normalisation and AdaIN divide by statistics of the whole image. A tile alone would
measure its own, and neighbouring tiles would disagree (seams). Under :func:`recording` every
:func:`shared` value is computed and kept; under :func:`replaying` the same calls, in the same
order, return the kept values instead. Recording a thumbnail of the image and replaying it in
every tile is thumbnail instance normalisation (Chen et al. 2021). Outside both, :func:`shared`
just computes.
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


_tape: ContextVar[Tape | None] = ContextVar("brushwork_statistics_tape", default=None)


def shared(compute: Callable[[], T]) -> T:
    """``compute()``, or while replaying, the value it gave at this point of the recording."""
    tape = _tape.get()
    if tape is None:
        return compute()
    if tape.replayed is None:
        tape.values.append(compute())
        return tape.values[-1]
    if tape.replayed >= len(tape.values):
        raise RuntimeError("replayed past the recording: the tiles ran other layers than the thumbnail")
    tape.replayed += 1
    return tape.values[tape.replayed - 1]


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
    if _tape.get() is None:
        return F.group_norm(x, x.shape[1], weight, bias, eps)
    mean, var = shared(lambda: moments(x))
    scale = torch.rsqrt(var + eps)
    shift = -mean * scale
    if weight is not None:
        scale, shift = scale * weight.float()[:, None, None], shift * weight.float()[:, None, None]
    if bias is not None:
        shift = shift + bias.float()[:, None, None]
    return x * scale.to(x.dtype) + shift.to(x.dtype)
