"""brushwork's fast arbitrary-style network: small encoders and a style-modulated decoder, no VGG.

In the spirit of MicroAST (Wang et al., AAAI 2023): a content encoder and a style encoder of the
same small shape, AdaIN at the bottleneck, and a decoder whose layers are modulated by the style.

    encoder:  3x3 conv 16 -> 3x3/2 conv 32 -> 3x3/2 conv 64 -> 2 separable residual blocks (64)
    style code:  s = [μ(E_s(style)), σ(E_s(style))]  (per-channel mean and std, 128 numbers)
    bottleneck:  AdaIN(E_c(content), μ, σ)
    decoder:  2 modulated separable residual blocks (64) -> 3x3 conv 32, modulate, 2x up
              -> 3x3 conv 16, modulate, 2x up -> 3x3 conv 3

A modulated layer instance-normalises its input and scales and shifts it by ``(1 + γ, β)``,
predicted from the style code by one linear map for the whole decoder. The decoder convolves
before it upsamples (bilinear), so its widest layers run at a quarter and a sixteenth of the
pixels. Convolutions pad with zeros, which the convolution does itself (a separate reflection pad
cost a CPU as much time as the convolutions; :mod:`..methods.fast` reflects a margin around the
image instead). RGB in 0..1 in, RGB in 0..1 out (unclamped).
Weights are brushwork's own ``.safetensors``; this module's attribute names are its keys.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from ..errors import WeightsError
from ..statistics import instance_norm, shared
from .state import load_checked

CHANNELS = (16, 32, 64)
"""Channels after the stem and after each of the two stride-2 convolutions (the default width;
a model's own are read from its weights)."""
RESIDUAL_BLOCKS = 2
SCALE = 4
"""Two stride-2 convolutions: inputs are padded to a multiple of this."""
EPS = 1e-5


def _conv(channels_in: int, channels_out: int, stride: int = 1, groups: int = 1, kernel: int = 3) -> nn.Conv2d:
    return nn.Conv2d(channels_in, channels_out, kernel, stride, kernel // 2, groups=groups)


class _Separable(nn.Module):
    """A depthwise 3x3 convolution followed by a pointwise 1x1 one."""

    def __init__(self, channels: int):
        super().__init__()
        self.depthwise = _conv(channels, channels, groups=channels)
        self.pointwise = _conv(channels, channels, kernel=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.pointwise(self.depthwise(x))


class _Residual(nn.Module):
    """``x + conv2(ReLU(conv1(x)))`` with separable convolutions."""

    def __init__(self, channels: int):
        super().__init__()
        self.conv1, self.conv2 = _Separable(channels), _Separable(channels)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.conv2(F.relu(self.conv1(x)))


class Encoder(nn.Module):
    """RGB ``[B,3,H,W]`` (H, W multiples of 4) -> features ``[B,C,H/4,W/4]`` (``C = channels[-1]``)."""

    def __init__(self, channels: tuple[int, int, int] = CHANNELS):
        super().__init__()
        self.stem = _conv(3, channels[0])
        self.down1 = _conv(channels[0], channels[1], stride=2)
        self.down2 = _conv(channels[1], channels[2], stride=2)
        self.blocks = nn.Sequential(*(_Residual(channels[2]) for _ in range(RESIDUAL_BLOCKS)))

    def forward(self, image: torch.Tensor) -> torch.Tensor:
        x = F.relu(self.stem(image))
        x = F.relu(self.down1(x))
        x = F.relu(self.down2(x))
        return self.blocks(x)


def mean_std(features: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Per-channel ``(μ, σ)`` over space, each ``[B,C,1,1]``, in float32."""
    features = features.float()
    return features.mean((2, 3), keepdim=True), (features.var((2, 3), keepdim=True) + EPS).sqrt()


def _modulate(x: torch.Tensor, scale_shift: torch.Tensor) -> torch.Tensor:
    """``(1 + γ) IN(x) + β`` with ``[γ, β]`` = ``scale_shift`` ``[B,2C]``."""
    gamma, beta = scale_shift.to(x.dtype)[..., None, None].chunk(2, dim=1)
    return instance_norm(x, eps=EPS) * (1 + gamma) + beta


class FastArbitraryNet(nn.Module):
    """``forward(content, code)``: content RGB ``[B,3,H,W]`` (multiples of 4), style code
    ``[B,2C]`` (``C = channels[-1]``: 128 numbers at the default width)."""

    def __init__(self, channels: tuple[int, int, int] = CHANNELS):
        super().__init__()
        self.channels = tuple(channels)
        self.content_encoder = Encoder(self.channels)
        self.style_encoder = Encoder(self.channels)
        self.blocks = nn.ModuleList(_Residual(channels[2]) for _ in range(RESIDUAL_BLOCKS))
        self.up1 = _conv(channels[2], channels[1])
        self.up2 = _conv(channels[1], channels[0])
        self.out = _conv(channels[0], 3)
        self.modulated = (channels[2],) * RESIDUAL_BLOCKS + (channels[1], channels[0])
        """Channels of each modulated layer: after each residual block, after up1, after up2."""
        self.modulation = nn.Linear(2 * channels[2], 2 * sum(self.modulated))

    @property
    def dtype(self) -> torch.dtype:
        return self.out.weight.dtype

    def style_code(self, style: torch.Tensor) -> torch.Tensor:
        """``[μ, σ]`` of the style encoder's features, ``[B,2C]`` float32."""
        mean, std = mean_std(self.style_encoder(style))
        return torch.cat([mean, std], dim=1).flatten(1)

    def forward(self, content: torch.Tensor, code: torch.Tensor) -> torch.Tensor:
        features = self.content_encoder(content)
        content_mean, content_std = shared(lambda: mean_std(features))
        style_mean, style_std = code.float()[..., None, None].chunk(2, dim=1)
        x = ((features.float() - content_mean) / content_std * style_std + style_mean).to(features.dtype)
        modulations = self.modulation(code.to(self.modulation.weight.dtype)).split(
            [2 * channels for channels in self.modulated], dim=1
        )
        for block, scale_shift in zip(self.blocks, modulations, strict=False):
            x = _modulate(block(x), scale_shift)
        x = F.interpolate(F.relu(_modulate(self.up1(x), modulations[-2])), scale_factor=2, mode="bilinear")
        x = F.interpolate(F.relu(_modulate(self.up2(x), modulations[-1])), scale_factor=2, mode="bilinear")
        return self.out(x)


def is_fast_arbitrary(state: dict[str, torch.Tensor]) -> bool:
    return "style_encoder.stem.weight" in state and "modulation.weight" in state


def widths(state: dict[str, torch.Tensor]) -> tuple[int, int, int]:
    """The channels of a FastArbitraryNet's weights (its content encoder's three convolutions)."""
    return tuple(int(state[f"content_encoder.{name}.weight"].shape[0]) for name in ("stem", "down1", "down2"))


def load_fast_arbitrary(state: dict[str, torch.Tensor], source: str) -> FastArbitraryNet:
    """A FastArbitraryNet of the weights' own width from brushwork's keys, every key and shape checked."""
    channels = widths(state) if all(f"content_encoder.{n}.weight" in state for n in ("stem", "down1", "down2")) \
        else CHANNELS
    return load_checked(FastArbitraryNet(channels), state, source, "a brushwork fast arbitrary-style model")


def _positions(old: list[int], new: list[int]) -> torch.Tensor:
    """Where the entries of a vector made of segments of sizes ``old`` sit once each segment has
    grown to the size in ``new`` (each segment keeps its old entries first)."""
    starts = torch.tensor([0, *new[:-1]]).cumsum(0)
    return torch.cat([torch.arange(size) + start for size, start in zip(old, starts.tolist(), strict=True)])


def widen(state: dict[str, torch.Tensor], channels: tuple[int, int, int]) -> dict[str, torch.Tensor]:
    """The weights of a FastArbitraryNet in one with at least as many ``channels`` per layer that
    paints exactly the same: every old channel reads only old channels (its weights from the new
    ones are zero), and the new channels start from the network's own initialisation, so training
    can grow them from where the narrower network stood."""
    narrow = FastArbitraryNet(widths(state))
    if any(new < old for old, new in zip(narrow.channels, channels, strict=True)):
        raise WeightsError(f"a fast model of channels {narrow.channels} cannot be narrowed to {tuple(channels)}")
    wide = FastArbitraryNet(channels)
    code = _positions([narrow.channels[2]] * 2, [wide.channels[2]] * 2)
    modulated = _positions([c for c in narrow.modulated for _ in "γβ"], [c for c in wide.modulated for _ in "γβ"])
    grown = {}
    for key, target in wide.state_dict().items():
        old = state[key].to(target.dtype)
        rows = modulated if key.startswith("modulation.") else torch.arange(old.shape[0])
        target = target.clone()
        if old.dim() == 1:
            target[rows] = old
        else:
            columns = code if key.startswith("modulation.") else torch.arange(old.shape[1])
            target[rows] = 0
            target[rows[:, None], columns] = old
        grown[key] = target
    return grown
