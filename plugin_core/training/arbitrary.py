"""Training the arbitrary-style networks: the AdaIN decoder and the fast model.

Both learn from random (photo, painting) crop pairs with Huang & Belongie's objective
(:func:`.losses.adain_losses`): the AdaIN decoder decodes the AdaIN targets themselves (relu4_1
alone for the classic decoder; relu1_1..relu4_1 for brushwork's decoder with skips); the fast
model must reach them from the two images alone, so no VGG is needed when it runs.
"""

from __future__ import annotations

import torch
from torch import nn

from ..errors import RequestError
from ..networks.decoder import DECODER_CONVS, Decoder
from ..networks.fast_arbitrary import CHANNELS as FAST_CHANNELS
from ..networks.fast_arbitrary import FastArbitraryNet
from ..networks.skip_decoder import CHANNELS, STAGES, SkipDecoder, merge_name
from ..networks.vgg import VGG19, load_vgg19
from .data import Augment, ImageSet, describe_augment, describe_images
from .loop import TrainSettings
from .losses import ADAIN_LAYER, ADAIN_STYLE_LAYERS, LAYER_SCALE, adain_losses, adain_targets

STYLE_WEIGHT = 10.0
"""λ, Huang & Belongie's default."""
ADAIN_CONTENT_LAYERS = (ADAIN_LAYER,)
"""Huang & Belongie's content layer."""
DECODERS = ("skip", "classic")
"""brushwork's decoder with skips (:mod:`..networks.skip_decoder`), or the published relu4_1-only layout."""


class _ArbitraryTask:
    family = ""

    def __init__(self, network: nn.Module, content: ImageSet, styles: ImageSet, style_weight: float,
                 vgg: VGG19 | None, content_layers: tuple[str, ...] = ADAIN_CONTENT_LAYERS,
                 gram_weight: float = 0.0, augment: Augment | None = None):
        self.network = network
        self.content, self.styles = content, styles
        self.style_weight, self.gram_weight, self.augment = style_weight, gram_weight, augment
        self.content_layers = content_layers
        self.vgg = vgg if vgg is not None else load_vgg19()
        self.memory_format = torch.contiguous_format

    def to(self, device: torch.device, channels_last: bool) -> None:
        self.memory_format = torch.channels_last if channels_last else torch.contiguous_format
        self.network.to(device, memory_format=self.memory_format)
        self.vgg.to(device, memory_format=self.memory_format)
        self.content.to(device)
        self.styles.to(device)

    levels: tuple[str, ...] = (ADAIN_LAYER,)
    """The layers whose AdaIN targets the network is fed (and the content layers are among)."""

    def generate(self, content: torch.Tensor, style: torch.Tensor, targets: list[torch.Tensor]) -> torch.Tensor:
        raise NotImplementedError

    def losses(self, generator: torch.Generator, settings: TrainSettings):
        content = self.content.crops(settings.batch, settings.size, generator)
        style = self.styles.crops(settings.batch, settings.size, generator, augment=self.augment)
        content, style = (x.contiguous(memory_format=self.memory_format) for x in (content, style))
        levels = tuple(dict.fromkeys(self.levels + self.content_layers))
        targets, style_features = adain_targets(self.vgg, content, style, levels)
        by_layer = dict(zip(levels, targets, strict=True))
        generated = self.generate(content, style, [by_layer[level] for level in self.levels])
        content_targets = {layer: by_layer[layer] for layer in self.content_layers}
        return adain_losses(self.vgg, generated, content_targets, style_features, self.style_weight,
                            self.gram_weight)

    def describe(self) -> dict[str, object]:
        gram = f" + {self.gram_weight} x Gram style" if self.gram_weight else ""
        return {"content": describe_images(self.content.paths), "style": describe_images(self.styles.paths),
                "loss": f"{' + '.join(self.content_layers)} content + {self.style_weight} x mean/std style{gram} "
                        f"on relu1_1..relu4_1"} | describe_augment(self.augment)


class AdaINTask(_ArbitraryTask):
    """An AdaIN decoder trained on brushwork's VGG19 (Huang & Belongie 2017): ``decoder`` is one of
    :data:`DECODERS`.

    Every input convolution starts divided by its layer's mean activation, so the untrained
    decoder sees inputs of about unit size.
    """

    family = "adain"

    def __init__(
        self, content: ImageSet, styles: ImageSet, style_weight: float = STYLE_WEIGHT, vgg: VGG19 | None = None,
        decoder: str = DECODERS[0], content_layers: tuple[str, ...] = ADAIN_CONTENT_LAYERS,
        gram_weight: float = 0.0, augment: Augment | None = None,
    ):
        if decoder not in DECODERS:
            raise RequestError(f"unknown decoder {decoder!r}: use one of {', '.join(DECODERS)}")
        network = SkipDecoder() if decoder == "skip" else Decoder()
        with torch.no_grad():
            getattr(network, DECODER_CONVS[0]).weight /= LAYER_SCALE[ADAIN_LAYER]
            if decoder == "skip":
                for layer, _ in STAGES:  # the merge's last input channels are the skip's
                    merge = getattr(network, merge_name(layer)).weight
                    merge[:, -CHANNELS[layer]:] /= LAYER_SCALE[layer]
        unknown = set(content_layers) - set(ADAIN_STYLE_LAYERS)
        if unknown:
            raise RequestError(f"AdaIN content layers must be among {', '.join(ADAIN_STYLE_LAYERS)}, "
                               f"not {', '.join(sorted(unknown))}")
        super().__init__(network, content, styles, style_weight, vgg, content_layers, gram_weight, augment)
        self.levels = network.levels
        self.decoder = decoder

    def generate(self, content, style, targets):
        return self.network(*(t.contiguous(memory_format=self.memory_format) for t in targets))

    def describe(self) -> dict[str, object]:
        return super().describe() | {"decoder": self.decoder}


class FastTask(_ArbitraryTask):
    """brushwork's small arbitrary-style network, taught the AdaIN objective by VGG19."""

    family = "fast"

    def __init__(
        self, content: ImageSet, styles: ImageSet, style_weight: float = STYLE_WEIGHT, vgg: VGG19 | None = None,
        augment: Augment | None = None, channels: tuple[int, int, int] = FAST_CHANNELS,
    ):
        super().__init__(FastArbitraryNet(channels), content, styles, style_weight, vgg, augment=augment)

    def generate(self, content, style, targets):
        return self.network(content, self.network.style_code(style))
