"""Weight files for tests, built with exactly the published key names and tensor shapes.

The real files cannot be downloaded on our machines; their layouts are public facts:
* naoto0804/pytorch-AdaIN ``vgg_normalised.pth`` and ``decoder.pth``: ``nn.Sequential`` state dicts
  whose keys are module positions (``ADAIN_VGG_MODULES`` / ``ADAIN_DECODER_MODULES``);
* pytorch/examples ``fast_neural_style`` ``candy.pth`` & co.: TransformerNet attribute keys, and in
  files saved by old PyTorch versions ``in*.running_mean/var`` buffers as well.
Random values scaled by ``sqrt(2 / fan_in)`` keep activations in range for plumbing tests; the
feed-forward output layer is scaled to pixel values around mid-grey.
"""

import torch

from plugin_core.networks.decoder import Decoder
from plugin_core.networks.skip_decoder import SkipDecoder
from plugin_core.tensor_files import write_tensors

_BLOCK = ["pad", "conv", "relu"]
ADAIN_VGG_MODULES = (
    ["conv"] + _BLOCK * 2 + ["pool"] + _BLOCK * 2 + ["pool"] + _BLOCK * 4 + ["pool"] + _BLOCK * 4 + ["pool"]
    + _BLOCK * 4
)
ADAIN_VGG_SHAPES = {
    0: (3, 3, 1, 1), 2: (64, 3, 3, 3), 5: (64, 64, 3, 3), 9: (128, 64, 3, 3), 12: (128, 128, 3, 3),
    16: (256, 128, 3, 3), 19: (256, 256, 3, 3), 22: (256, 256, 3, 3), 25: (256, 256, 3, 3),
    29: (512, 256, 3, 3), 32: (512, 512, 3, 3), 35: (512, 512, 3, 3), 38: (512, 512, 3, 3),
    42: (512, 512, 3, 3), 45: (512, 512, 3, 3), 48: (512, 512, 3, 3), 51: (512, 512, 3, 3),
}
ADAIN_DECODER_MODULES = (
    _BLOCK + ["up"] + _BLOCK * 3 + _BLOCK + ["up"] + _BLOCK + _BLOCK + ["up"] + _BLOCK + ["pad", "conv"]
)
ADAIN_DECODER_SHAPES = {
    1: (256, 512, 3, 3), 5: (256, 256, 3, 3), 8: (256, 256, 3, 3), 11: (256, 256, 3, 3), 14: (128, 256, 3, 3),
    18: (128, 128, 3, 3), 21: (64, 128, 3, 3), 25: (64, 64, 3, 3), 28: (3, 64, 3, 3),
}


def _fast_neural_style_shapes() -> dict[str, tuple[int, ...]]:
    shapes = {"conv1.conv2d.weight": (32, 3, 9, 9), "in1": (32,), "conv2.conv2d.weight": (64, 32, 3, 3),
              "in2": (64,), "conv3.conv2d.weight": (128, 64, 3, 3), "in3": (128,)}
    for i in range(1, 6):
        shapes |= {f"res{i}.conv1.conv2d.weight": (128, 128, 3, 3), f"res{i}.in1": (128,),
                   f"res{i}.conv2.conv2d.weight": (128, 128, 3, 3), f"res{i}.in2": (128,)}
    return shapes | {"deconv1.conv2d.weight": (64, 128, 3, 3), "in4": (64,), "deconv2.conv2d.weight": (32, 64, 3, 3),
                     "in5": (32,), "deconv3.conv2d.weight": (3, 32, 9, 9)}


FAST_NEURAL_STYLE_SHAPES = _fast_neural_style_shapes()
OUTPUT_LAYER = "deconv3.conv2d.weight"
OUTPUT_GAIN = 40.0
DECODER_OUTPUT_GAIN = 1e-4


def _conv(shape, generator):
    fan_in = shape[1] * shape[2] * shape[3]
    return torch.randn(shape, generator=generator) * (2 / fan_in) ** 0.5, torch.zeros(shape[0])


def published_state(shapes: dict[int, tuple[int, ...]], seed: int) -> dict[str, torch.Tensor]:
    """An ``nn.Sequential`` state dict: ``{N}.weight`` / ``{N}.bias`` at the published positions."""
    generator = torch.Generator().manual_seed(seed)
    state = {}
    for index, shape in shapes.items():
        state[f"{index}.weight"], state[f"{index}.bias"] = _conv(shape, generator)
    return state


def fast_neural_style_state(seed: int, stale_buffers: bool = True) -> dict[str, torch.Tensor]:
    """A pytorch/examples TransformerNet state dict, with old PyTorch's instance-norm buffers."""
    generator = torch.Generator().manual_seed(seed)
    state = {}
    for key, shape in FAST_NEURAL_STYLE_SHAPES.items():
        if key.endswith(".weight"):
            state[key], state[key.replace(".weight", ".bias")] = _conv(shape, generator)
            if key == OUTPUT_LAYER:
                state[key] *= OUTPUT_GAIN
                state[key.replace(".weight", ".bias")] += 127.5
            continue
        state[f"{key}.weight"] = 1 + 0.1 * torch.randn(shape, generator=generator)
        state[f"{key}.bias"] = 0.1 * torch.randn(shape, generator=generator)
        if stale_buffers:
            state[f"{key}.running_mean"], state[f"{key}.running_var"] = torch.zeros(shape), torch.ones(shape)
    return state


def adain_pair(folder):
    """pytorch-AdaIN's two files, as published, in ``folder``."""
    torch.save(published_state(ADAIN_VGG_SHAPES, seed=1), folder / "vgg_normalised.pth")
    torch.save(published_state(ADAIN_DECODER_SHAPES, seed=2), folder / "decoder.pth")
    return folder / "decoder.pth"


def brushwork_decoder(folder, seed: int = 3, skips: bool = False):
    """A brushwork AdaIN decoder ``.safetensors`` (classic, or ``skips``: the decoder with skips) with
    random weights: He-scaled, so the image is not flat, and an output layer that lands around mid-grey."""
    torch.manual_seed(seed)
    decoder = SkipDecoder() if skips else Decoder()
    for conv in decoder.children():
        torch.nn.init.kaiming_normal_(conv.weight, nonlinearity="relu")
    with torch.no_grad():
        decoder.conv1_1.weight *= DECODER_OUTPUT_GAIN
        decoder.conv1_1.bias.fill_(0.5)
    name = "skip-decoder" if skips else "decoder"
    return write_tensors(folder / f"{name}.safetensors", decoder.state_dict(), {"family": "adain"})
