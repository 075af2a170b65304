"""Training a feed-forward style (Johnson et al. 2016): one TransformerNet learns one painting.

    L = α MSE(φ_relu2_2(y), φ_relu2_2(x)) + β Σ_l MSE(G(φ_l(y)), G(φ_l(s))) + γ TV(y),
    l ∈ relu1_2, relu2_2, relu3_4, relu4_4

with ``y = N(x)`` the network's output for a photo crop ``x`` and ``s`` the painting, read once at
``style_size``. Features are normalised per layer (:data:`.losses.LAYER_SCALE`).
"""

from __future__ import annotations

from pathlib import Path

import torch
import torch.nn.functional as F

from ..image import fit_long_side, load_image, resize
from ..methods.gatys import gram
from ..networks.transformer_net import TransformerNet
from ..networks.vgg import VGG19, load_vgg19
from .data import ImageSet, describe_images
from .loop import TrainSettings
from .losses import features, gram_loss, total_variation

CONTENT_LAYER = "relu2_2"
STYLE_LAYERS = ("relu1_2", "relu2_2", "relu3_4", "relu4_4")
CONTENT_WEIGHT = 1.0
STYLE_WEIGHT = 1e5
TV_WEIGHT = 1.0
STYLE_SIZE = 512


class FeedForwardTask:
    family = "feedforward"

    def __init__(self, content: ImageSet, style: Path, style_size: int = STYLE_SIZE,
                 weights: tuple[float, float, float] = (CONTENT_WEIGHT, STYLE_WEIGHT, TV_WEIGHT),
                 vgg: VGG19 | None = None):
        self.network = TransformerNet()
        self.content, self.style_path = content, style
        image = load_image(style, "style").rgb
        self.style = resize(image, fit_long_side(*image.shape[-2:], style_size))
        self.style_size = style_size
        self.content_weight, self.style_weight, self.tv_weight = weights
        self.vgg = vgg if vgg is not None else load_vgg19()
        self.memory_format = torch.contiguous_format
        self.style_grams: dict[str, torch.Tensor] = {}

    def to(self, device: torch.device, channels_last: bool) -> None:
        self.memory_format = torch.channels_last if channels_last else torch.contiguous_format
        self.network.to(device, memory_format=self.memory_format)
        self.vgg.to(device, memory_format=self.memory_format)
        self.content.to(device)
        with torch.no_grad():
            style = features(self.vgg, self.style.to(device, memory_format=self.memory_format), STYLE_LAYERS)
            self.style_grams = {name: gram(value) for name, value in style.items()}

    def losses(self, generator: torch.Generator, settings: TrainSettings):
        photo = self.content.crops(settings.batch, settings.size, generator)
        photo = photo.contiguous(memory_format=self.memory_format)
        output = self.network(photo)
        produced = features(self.vgg, output, (CONTENT_LAYER, *STYLE_LAYERS))
        with torch.no_grad():
            target = features(self.vgg, photo, (CONTENT_LAYER,))[CONTENT_LAYER]
        content = F.mse_loss(produced[CONTENT_LAYER], target)
        style = gram_loss({name: produced[name] for name in STYLE_LAYERS}, self.style_grams)
        tv = total_variation(output)
        total = self.content_weight * content + self.style_weight * style + self.tv_weight * tv
        return {"total": total, "content": content, "style": style, "tv": tv}

    def describe(self) -> dict[str, object]:
        return {
            "content": describe_images(self.content.paths), "style": describe_images([self.style_path]),
            "style_size": self.style_size,
            "loss": f"{self.content_weight} x relu2_2 content + {self.style_weight} x Gram style on "
                    f"{', '.join(STYLE_LAYERS)} + {self.tv_weight} x TV",
        }
