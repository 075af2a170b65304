"""Feed-forward style transfer (Johnson et al. 2016): one trained network per style, one pass.

For region ``r`` with mask ``m_r`` and networks ``N_k`` weighted ``w_k`` (summing to 1),

    y_r = Σ w_k N_k(c),    y = Σ m_r y_r / Σ m_r  (the content where no mask is on),
    output = s y + (1 − s) c  with strength ``s``.

Each network runs once per frame however many regions use it, in its own dtype (bfloat16 where
the hardware has it); the blending is float32.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

from ..errors import RequestError
from ..image import with_margin
from ..masks import composite
from ..networks.transformer_net import SCALE, TransformerNet
from ..regions import Region

MARGIN = 8 * SCALE
"""Pixels reflected around the content and cropped off again: the bands a network trained on small
crops paints along the borders fall in this margin."""


def stylize(content: torch.Tensor, regions: Sequence[Region], strength: float = 1.0) -> torch.Tensor:
    """Stylize ``content`` ``[B,3,H,W]`` (any size: a margin is reflected around it, it is padded to a
    multiple of 4, and the result is cropped back); every style of every region carries a loaded
    ``TransformerNet`` (or its ONNX graph)."""
    height, width = content.shape[-2:]
    padded, margin = with_margin(content, MARGIN, SCALE)
    outputs: dict[int, torch.Tensor] = {}
    painted = []
    with torch.inference_mode():
        for region in regions:
            image = torch.zeros_like(content)
            for style, weight in zip(region.styles, region.normalised_weights(), strict=True):
                net = style.model
                if not callable(net) or (isinstance(net, nn.Module) and not isinstance(net, TransformerNet)):
                    raise RequestError(f"feed-forward styles need a loaded TransformerNet, got {type(net).__name__}")
                if id(net) not in outputs:
                    styled = net(padded.to(net.dtype, memory_format=torch.channels_last)).float()
                    outputs[id(net)] = styled[..., margin : margin + height, margin : margin + width].clamp(0, 1)
                image += weight * outputs[id(net)]
            painted.append((image, region.mask))
        return torch.lerp(content, composite(content, painted), strength).contiguous()
