"""A clip as a sequence of frames, stylized so that it does not flicker.

``consistency``:

* ``off``: every frame on its own (what an image batch gets);
* ``stats``: every image-wide statistic (AdaIN's content mean and std, every instance norm of the
  feed-forward and fast networks, the style codes) is smoothed over time through
  :func:`..statistics.over_time`: no global flicker (Gram optimisation has none to smooth);
* ``flow`` (the default): ``stats``, and the previous result warped onto the frame along the input's
  optical flow (:mod:`.flow`) where that flow is trusted. One-pass methods blend it in,
  ``O_t = (1 − w m) S_t + w m warp(O_{t−1})`` with ``w`` the temporal weight, ``m`` the trusted
  mask and ``warp`` bicubic (:func:`.flow.carry`); Gram optimisation starts from it and keeps near
  it with a temporal loss (Ruder et al. 2016).

Frames come in and go out one at a time: memory holds the previous frame and result, never the clip.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Iterator
from contextlib import nullcontext

import torch

from .. import api, statistics
from ..controls import CONSISTENCY, TEMPORAL_WEIGHT
from ..errors import RequestError
from ..image import resize
from ..methods.gatys import Prior
from .flow import FlowEstimator, carry, trusted

STATISTICS_KEEP = 0.5
"""How much of the previous frames' statistics a frame keeps (the moving average's ``k``)."""
GRAM_TEMPORAL_LOSS = 1e9
"""The Gram method's temporal loss weight at ``w = 1`` (its content loss is ~1e7 per pixel)."""


def _check(consistency: str, temporal_weight: float) -> None:
    if consistency not in CONSISTENCY:
        raise RequestError(f"unknown consistency {consistency!r}: use one of {', '.join(CONSISTENCY)}")
    if not 0 <= temporal_weight <= 1:
        raise RequestError(f"the temporal weight must be between 0 and 1, got {temporal_weight}")


def stylize_frames(
    requests: Iterable[api.StyleRequest],
    consistency: str = "flow",
    temporal_weight: float = TEMPORAL_WEIGHT,
) -> Iterator[torch.Tensor]:
    """The result of each request, one frame each (its ``content`` ``[1,3,H,W]``, the clip's frames in
    order), at the request's working size, on the CPU."""
    _check(consistency, temporal_weight)
    history = statistics.History(STATISTICS_KEEP) if consistency != "off" else None
    estimate = FlowEstimator() if consistency == "flow" else None
    previous = None  # with flow: (the last frame at the working size, its result)
    for request in requests:
        current = None if estimate is None else resize(request.content.float(), api.working_size(request))
        mask = backward = None
        if estimate is not None and previous is not None:
            last_frame, last_result = previous
            backward = estimate(current, last_frame)
            mask = trusted(backward, estimate(last_frame, current))
            if request.method == "gatys":
                warped = carry(last_result, backward)
                prior = Prior(warped, mask, temporal_weight * GRAM_TEMPORAL_LOSS)
                init = torch.lerp(current, warped, mask)
                gatys = dataclasses.replace(request.gatys, init=init, scales=1, prior=prior)
                request = dataclasses.replace(request, gatys=gatys)
        with statistics.over_time(history) if history is not None else nullcontext():
            result = api.stylize(dataclasses.replace(request, watermark=False))
        if mask is not None and request.method != "gatys":
            result = torch.lerp(result, carry(previous[1], backward), temporal_weight * mask)
        # marked after the blend; the next frame carries the unmarked result
        yield api.marked(result, request.watermark_serial) if request.watermark else result
        previous = current, result
