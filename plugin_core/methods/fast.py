"""Fast arbitrary style transfer with brushwork's small network (no VGG at inference).

A style image becomes a code ``s = [μ, σ]`` of its style-encoder features; several styles of a
region with weights ``w_k`` (summing to 1) mix as ``Σ w_k s_k`` (the same linear mix as AdaIN's
statistics). Region ``r`` with mask ``m_r`` is decoded with its code and

    y = Σ m_r y_r / Σ m_r  (the content where no mask is on),    output = s y + (1 − s) c

with strength ``s``. The network runs in its own dtype (bfloat16 where the hardware has it). Style
codes and the network's normalisation statistics are :func:`..statistics.shared`, so tiles of
one image use the thumbnail's.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch

from ..image import pad_to_multiple, resize, style_working_size, with_margin
from ..masks import composite
from ..networks.fast_arbitrary import SCALE, FastArbitraryNet
from ..regions import Region
from ..statistics import shared

MIN_STYLE_SIDE = 4 * SCALE
MARGIN = 4 * SCALE
"""Pixels reflected around the content and cropped off again: the network pads its convolutions
with zeros, and what that does at the borders falls in this margin."""


def style_code(net: FastArbitraryNet, style: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
    """The code ``[1,128]`` of a style image read at ``size``."""
    image = pad_to_multiple(resize(style, size), SCALE)
    return net.style_code(image.to(net.dtype, memory_format=torch.channels_last))


def stylize(
    net: FastArbitraryNet,
    content: torch.Tensor,
    regions: Sequence[Region],
    strength: float = 1.0,
    style_size: int | None = None,
) -> torch.Tensor:
    """Stylize ``content`` ``[B,3,H,W]`` (any size: it is padded by reflection and cropped back)."""
    height, width = content.shape[-2:]
    padded, margin = with_margin(content, MARGIN, SCALE)
    padded = padded.to(net.dtype, memory_format=torch.channels_last)
    painted = []

    def code_of(style: torch.Tensor) -> torch.Tensor:
        size = style_working_size(style.shape[-2:], (height, width), style_size, MIN_STYLE_SIDE)
        return style_code(net, style.to(content), size)

    with torch.inference_mode():
        for region in regions:
            codes = [shared(lambda image=style.image: code_of(image)) for style in region.styles]
            code = sum(w * c for w, c in zip(region.normalised_weights(), codes, strict=True))
            image = net(padded, code.expand(content.shape[0], -1)).float()
            image = image[..., margin : margin + height, margin : margin + width].clamp(0, 1)
            painted.append((image, region.mask))
        return torch.lerp(content, composite(content, painted), strength).contiguous()
