"""brushwork's AdaIN decoder: relu4_1 back to RGB, joined on the way by the shallower layers.

The classic decoder (:mod:`.decoder`) must rebuild every edge of the photo from relu4_1 alone, an
eighth of its resolution; trained on a CPU for hours instead of a GPU for days it stays blurry.
This one also reads relu3_1, relu2_1 and relu1_1, each re-normalised to the style's statistics
at that layer by the caller (AdaIN at every level), so the fine structure has a short path:

    x = up(ReLU(conv4_1(t4_1)))                                   256 ch, 1/4
    x = up(ReLU(conv3_1(ReLU(conv3_2(ReLU(merge3_1([x, t3_1])))))))  128 ch, 1/2
    x = up(ReLU(conv2_1(ReLU(conv2_2(ReLU(merge2_1([x, t2_1])))))))  64 ch, 1/1
    y = conv1_1(ReLU(conv1_2(ReLU(merge1_1([x, t1_1])))))           RGB

``[a, b]`` joins channels; ``mergeX_1`` are 1x1 convolutions, the rest 3x3 with reflection
padding; ``up`` is nearest 2x. Weights are brushwork's own ``.safetensors`` (this module's keys).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from .state import load_checked

LEVELS = ("relu1_1", "relu2_1", "relu3_1", "relu4_1")
"""The encoder layers read, shallow to deep (the order of :meth:`SkipDecoder.forward`'s inputs)."""
CHANNELS = {"relu1_1": 64, "relu2_1": 128, "relu3_1": 256, "relu4_1": 512}
STAGES = (
    ("relu3_1", (("conv3_2", 256), ("conv3_1", 128))),
    ("relu2_1", (("conv2_2", 128), ("conv2_1", 64))),
    ("relu1_1", (("conv1_2", 64), ("conv1_1", 3))),
)
"""Each stage: the skip layer it merges, then its 3x3 convolutions (name, output channels)."""
SCALE = 8
"""The encoder pools three times before relu4_1: inputs are padded to a multiple of this."""


def merge_name(layer: str) -> str:
    """The 1x1 convolution that joins ``layer``'s features in (``relu3_1`` -> ``merge3_1``)."""
    return "merge" + layer.removeprefix("relu")


class SkipDecoder(nn.Module):
    """``forward(relu1_1, relu2_1, relu3_1, relu4_1)`` -> RGB ``[B,3,H,W]`` (unclamped), with relu4_1's
    features ``[B,512,H/8,W/8]``."""

    levels = LEVELS

    def __init__(self):
        super().__init__()
        self.conv4_1 = nn.Conv2d(CHANNELS["relu4_1"], CHANNELS["relu3_1"], 3, padding=1, padding_mode="reflect")
        width = CHANNELS["relu3_1"]
        for layer, convs in STAGES:
            self.add_module(merge_name(layer), nn.Conv2d(width + CHANNELS[layer], CHANNELS[layer], 1))
            width = CHANNELS[layer]
            for name, channels in convs:
                self.add_module(name, nn.Conv2d(width, channels, 3, padding=1, padding_mode="reflect"))
                width = channels

    @property
    def dtype(self) -> torch.dtype:
        return self.conv4_1.weight.dtype

    def forward(
        self, relu1_1: torch.Tensor, relu2_1: torch.Tensor, relu3_1: torch.Tensor, relu4_1: torch.Tensor
    ) -> torch.Tensor:
        by_layer = dict(zip(LEVELS, (relu1_1, relu2_1, relu3_1, relu4_1), strict=True))
        x = F.interpolate(F.relu(self.conv4_1(by_layer["relu4_1"])), scale_factor=2, mode="nearest")
        for stage, (layer, convs) in enumerate(STAGES):
            x = F.relu(getattr(self, merge_name(layer))(torch.cat([x, by_layer[layer]], dim=1)))
            for name, _ in convs:
                x = getattr(self, name)(x)
                if name != STAGES[-1][1][-1][0]:
                    x = F.relu(x)
            if stage < len(STAGES) - 1:
                x = F.interpolate(x, scale_factor=2, mode="nearest")
        return x


def is_skip_decoder(state: dict[str, torch.Tensor]) -> bool:
    return f"{merge_name(LEVELS[0])}.weight" in state


def load_skip_decoder(state: dict[str, torch.Tensor], source: str) -> SkipDecoder:
    """A SkipDecoder from brushwork's keys, every key and shape checked."""
    return load_checked(SkipDecoder(), state, source, "a brushwork AdaIN decoder with skips")
