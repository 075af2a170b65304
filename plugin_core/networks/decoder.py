"""AdaIN decoder (Huang & Belongie 2017): the mirror of VGG19 from relu4_1 back to RGB.

Layer ``convX_Y`` inverts the encoder's ``convX_Y`` (its channels reversed): 3x3 convolutions with
reflection padding, ReLU after all but the last, nearest 2x upsampling where the encoder pooled,
no normalisation. The output is RGB in 0..1 (clamped by the caller).

Two weight formats load into the same module: brushwork's ``.safetensors`` (this module's own
keys, ``conv4_1.weight`` ...) and pytorch-AdaIN's ``decoder.pth``, an ``nn.Sequential`` whose keys
are module positions (``1.weight`` ... ``28.weight``), mapped through ``ADAIN_DECODER_LAYOUT``.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from ..errors import WeightsError
from .vgg import CONV_CHANNELS, CONV_NAMES, copy_conv

ENCODER_LAYER = "relu4_1"
DECODER_CONVS = tuple(reversed(CONV_NAMES[: CONV_NAMES.index("conv4_1") + 1]))
"""``conv4_1, conv3_4, ..., conv1_1``: the encoder's convolutions in the order they are inverted."""
UPSAMPLE_AFTER = tuple(name for name in DECODER_CONVS if name.endswith("_1") and name != "conv1_1")
"""The first convolution of blocks 2-4 follows a pooling in the encoder, so its inverse upsamples."""
SCALE = 8
"""The encoder pools three times before relu4_1: inputs are padded to a multiple of this."""


def _adain_layout() -> list[str]:
    """pytorch-AdaIN's decoder Sequential, one entry per module: pad, conv, ReLU, upsample."""
    layout = []
    for name in DECODER_CONVS:
        layout += ["pad", name]
        if name != DECODER_CONVS[-1]:
            layout.append("relu")
        if name in UPSAMPLE_AFTER:
            layout.append("upsample")
    return layout


ADAIN_DECODER_LAYOUT = _adain_layout()


class Decoder(nn.Module):
    """relu4_1 features ``[B,512,h,w]`` -> RGB ``[B,3,8h,8w]``."""

    levels = (ENCODER_LAYER,)
    """The encoder layers it reads (the inputs of ``forward``)."""

    def __init__(self):
        super().__init__()
        for name in DECODER_CONVS:
            channels_in, channels_out = CONV_CHANNELS[name]
            self.add_module(name, nn.Conv2d(channels_out, channels_in, 3, padding=1, padding_mode="reflect"))

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        x = features
        for name in DECODER_CONVS:
            x = getattr(self, name)(x)
            if name != DECODER_CONVS[-1]:
                x = F.relu(x)
            if name in UPSAMPLE_AFTER:
                x = F.interpolate(x, scale_factor=2, mode="nearest")
        return x


def is_adain_decoder(state: dict[str, torch.Tensor]) -> bool:
    """Whether ``state`` has pytorch-AdaIN decoder keys (its first conv maps 512 to 256 channels)."""
    first = state.get(f"{ADAIN_DECODER_LAYOUT.index(DECODER_CONVS[0])}.weight")
    return first is not None and tuple(first.shape[:2]) == (256, 512)


def load_decoder(state: dict[str, torch.Tensor], source: str) -> Decoder:
    """A Decoder from brushwork keys (``conv4_1.weight``) or pytorch-AdaIN's positional keys."""
    decoder = Decoder()
    adain = is_adain_decoder(state)
    for name in DECODER_CONVS:
        key = str(ADAIN_DECODER_LAYOUT.index(name)) if adain else name
        try:
            weight, bias = state[f"{key}.weight"], state[f"{key}.bias"]
        except KeyError as missing:
            kind = "pytorch-AdaIN decoder.pth" if adain else "brushwork AdaIN decoder"
            raise WeightsError(f"{source}: key {missing} missing; not a complete {kind}") from None
        copy_conv(getattr(decoder, name), weight, bias, f"{source}: decoder layer {name} (key {key})")
    return decoder.eval().requires_grad_(False)
