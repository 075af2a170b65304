"""Johnson et al. 2016 feed-forward style network, with instance normalisation (Ulyanov et al.)
and upsample-then-convolve in place of transposed convolutions.

    9x9 conv 32 -> 3x3/2 conv 64 -> 3x3/2 conv 128 -> 5 residual blocks (128)
    -> 2x upsample, 3x3 conv 64 -> 2x upsample, 3x3 conv 32 -> 9x9 conv 3

Every convolution pads by reflection; each but the last is followed by instance normalisation and a
ReLU (none after the second convolution of a residual block). The weights work in pixel values
0..255 (pytorch/examples ``fast_neural_style`` convention); the module takes and returns RGB in 0..1.

The attribute names are the keys of pytorch/examples' saved models (``conv1.conv2d.weight``,
``in1.weight``, ``res1.conv1.conv2d.weight`` ...), which are also brushwork's own ``.safetensors``
keys. Models saved by old PyTorch versions carry instance-norm ``running_mean``/``running_var``
buffers that the network never uses: they are dropped on load.
"""

from __future__ import annotations

import re

import torch
import torch.nn.functional as F
from torch import nn

from ..statistics import instance_norm
from .state import load_checked

PIXEL_SCALE = 255.0
RESIDUAL_BLOCKS = 5
SCALE = 4
"""The two stride-2 convolutions: inputs are padded to a multiple of this."""
STALE_KEY = re.compile(r"(^|\.)in\d+\.running_(mean|var)$")


class _Conv(nn.Module):
    """Optional 2x nearest upsampling, then a reflection-padded convolution."""

    def __init__(self, channels_in: int, channels_out: int, kernel: int, stride: int = 1, upsample: bool = False):
        super().__init__()
        self.upsample = upsample
        self.conv2d = nn.Conv2d(channels_in, channels_out, kernel, stride, padding=kernel // 2, padding_mode="reflect")

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.upsample:
            x = F.interpolate(x, scale_factor=2, mode="nearest")
        return self.conv2d(x)


class _InstanceNorm(nn.Module):
    """Affine instance normalisation, ``γ (x − μ) / sqrt(σ² + ε) + β`` per image and channel.

    The same maths as ``nn.InstanceNorm2d`` (and its keys), without its copies of channels-last
    tensors; the statistics are the whole image's when tiled (:mod:`..statistics`).
    """

    def __init__(self, channels: int, eps: float = 1e-5):
        super().__init__()
        self.eps = eps
        self.weight = nn.Parameter(torch.ones(channels))
        self.bias = nn.Parameter(torch.zeros(channels))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return instance_norm(x, self.weight, self.bias, self.eps)


class _Residual(nn.Module):
    """``x + IN(conv(ReLU(IN(conv(x)))))``."""

    def __init__(self, channels: int):
        super().__init__()
        self.conv1, self.in1 = _Conv(channels, channels, 3), _InstanceNorm(channels)
        self.conv2, self.in2 = _Conv(channels, channels, 3), _InstanceNorm(channels)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.in2(self.conv2(F.relu(self.in1(self.conv1(x)))))


class TransformerNet(nn.Module):
    """RGB ``[B,3,H,W]`` in 0..1 (H, W multiples of 4) -> stylized RGB, same size, unclamped."""

    def __init__(self):
        super().__init__()
        self.conv1, self.in1 = _Conv(3, 32, 9), _InstanceNorm(32)
        self.conv2, self.in2 = _Conv(32, 64, 3, stride=2), _InstanceNorm(64)
        self.conv3, self.in3 = _Conv(64, 128, 3, stride=2), _InstanceNorm(128)
        for i in range(1, RESIDUAL_BLOCKS + 1):
            self.add_module(f"res{i}", _Residual(128))
        self.deconv1, self.in4 = _Conv(128, 64, 3, upsample=True), _InstanceNorm(64)
        self.deconv2, self.in5 = _Conv(64, 32, 3, upsample=True), _InstanceNorm(32)
        self.deconv3 = _Conv(32, 3, 9)

    @property
    def dtype(self) -> torch.dtype:
        return self.deconv3.conv2d.weight.dtype

    def forward(self, image: torch.Tensor) -> torch.Tensor:
        x = image * PIXEL_SCALE
        for conv, norm in ((self.conv1, self.in1), (self.conv2, self.in2), (self.conv3, self.in3)):
            x = F.relu(norm(conv(x)))
        for i in range(1, RESIDUAL_BLOCKS + 1):
            x = getattr(self, f"res{i}")(x)
        for conv, norm in ((self.deconv1, self.in4), (self.deconv2, self.in5)):
            x = F.relu(norm(conv(x)))
        return self.deconv3(x) / PIXEL_SCALE


def is_transformer_net(state: dict[str, torch.Tensor]) -> bool:
    first = state.get("conv1.conv2d.weight")
    return first is not None and tuple(first.shape[1:]) == (3, 9, 9)


def load_transformer_net(state: dict[str, torch.Tensor], source: str) -> TransformerNet:
    """A TransformerNet from pytorch/examples or brushwork keys, every key and shape checked."""
    state = {key: value for key, value in state.items() if not STALE_KEY.search(key)}
    return load_checked(TransformerNet(), state, source, "a feed-forward TransformerNet")
