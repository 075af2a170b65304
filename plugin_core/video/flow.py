"""Optical flow between frames, where it can be trusted, and warping along it.

A flow ``w`` of frame ``t`` towards frame ``s`` is ``[1,2,H,W]`` (x, y displacements in pixels):
pixel ``p`` of frame ``t`` shows what pixel ``p + w(p)`` of frame ``s`` showed. Flow is estimated
with OpenCV's DIS (Kroeger et al. 2016) on the input frames. It is trusted where the two directions
agree and no motion boundary runs (Ruder et al. 2016): with ``b`` the flow of ``t`` towards
``t−1`` and ``f`` that of ``t−1`` towards ``t`` read at ``p + b(p)``,

    |b + f|² <= 0.01 (|b|² + |f|²) + 0.5    and    |∇b_x|² + |∇b_y|² <= 0.01 |b|² + 0.002.

The warping error of a clip (Lai et al. 2018) is the mean over frames of the mean squared
difference, over trusted pixels and the three channels, between a frame and the one before it
warped onto it by the input's flow.
"""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np
import torch
import torch.nn.functional as F

from ..color import luminance
from ..errors import RequestError

CONSISTENT = (0.01, 0.5)
"""The forward-backward check's relative and absolute tolerances."""
MOTION_BOUNDARY = (0.01, 0.002)
"""The motion-boundary check's relative and absolute tolerances."""


def _cv2():
    try:
        import cv2
    except ImportError:
        raise RequestError("optical flow needs OpenCV: pip install 'brushwork[video]'") from None
    return cv2


def _grey(frame: torch.Tensor) -> np.ndarray:
    """``[1,3,H,W]`` 0..1 -> uint8 ``[H,W]`` luma."""
    luma = luminance(frame.float())[0, 0].clamp(0, 1)
    return (luma * 255).round().to(torch.uint8).cpu().numpy()


class FlowEstimator:
    """DIS optical flow (OpenCV's medium preset) between pairs of frames."""

    def __init__(self):
        cv2 = _cv2()
        self._dis = cv2.DISOpticalFlow_create(cv2.DISOPTICAL_FLOW_PRESET_MEDIUM)

    def __call__(self, frame: torch.Tensor, towards: torch.Tensor) -> torch.Tensor:
        """The flow of ``frame`` towards ``towards`` (both ``[1,3,H,W]``), ``[1,2,H,W]`` on ``frame``'s device."""
        flow = self._dis.calc(_grey(frame), _grey(towards), None)
        return torch.from_numpy(flow).permute(2, 0, 1)[None].to(frame.device)


def warp(image: torch.Tensor, flow: torch.Tensor, mode: str = "bilinear") -> torch.Tensor:
    """``image`` (frame ``s``) seen from frame ``t``: ``out(p) = image(p + flow(p))``, interpolated
    (``bilinear`` or ``bicubic``), edges repeated."""
    _, _, height, width = image.shape
    ys, xs = torch.meshgrid(torch.arange(height, device=image.device), torch.arange(width, device=image.device),
                            indexing="ij")
    x = (xs + flow[:, 0].float()) * (2 / max(width - 1, 1)) - 1
    y = (ys + flow[:, 1].float()) * (2 / max(height - 1, 1)) - 1
    grid = torch.stack([x, y], dim=-1)
    return F.grid_sample(image.float(), grid, mode=mode, padding_mode="border", align_corners=True).to(image)


def carry(result: torch.Tensor, flow: torch.Tensor) -> torch.Tensor:
    """A painted frame (0..1) carried onto the next along ``flow``: bicubic, because a result is carried
    again with every frame and bilinear resampling, repeated, blurs its texture away (on a 512-pixel
    pan, frame-to-frame bilinear warps alone cost a tenth of the style loss)."""
    return warp(result, flow, "bicubic").clamp(0, 1)


def trusted(backward: torch.Tensor, forward: torch.Tensor) -> torch.Tensor:
    """``[1,1,H,W]`` 1 where ``backward`` (frame t towards t−1) is trusted, given ``forward`` (t−1 towards t)."""
    there = warp(forward, backward)
    squared = lambda flow: flow.pow(2).sum(1, keepdim=True)  # noqa: E731
    relative, absolute = CONSISTENT
    consistent = squared(backward + there) <= relative * (squared(backward) + squared(there)) + absolute
    dy, dx = torch.gradient(backward, dim=(2, 3))
    relative, absolute = MOTION_BOUNDARY
    smooth = squared(dx) + squared(dy) <= relative * squared(backward) + absolute
    return (consistent & smooth).float()


def warping_error(outputs: Iterable[torch.Tensor], inputs: Iterable[torch.Tensor]) -> float:
    """Lai et al.'s warping error of ``outputs`` under the flow of ``inputs`` (frames ``[1,3,H,W]``, 0..1)."""
    estimate = FlowEstimator()
    errors = []
    previous = None
    for output, frame in zip(outputs, inputs, strict=True):
        if previous is not None:
            last_output, last_frame = previous
            backward, forward = estimate(frame, last_frame), estimate(last_frame, frame)
            mask = trusted(backward, forward)
            squared = (output.float() - warp(last_output, backward).float()).pow(2).mean(1, keepdim=True)
            errors.append(float((squared * mask).sum() / mask.sum().clamp(min=1)))
        previous = output, frame
    if not errors:
        raise RequestError("the warping error needs at least two frames")
    return sum(errors) / len(errors)
