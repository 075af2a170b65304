"""Teaching a one-pass network by a trained AdaIN model (knowledge distillation).

The student sees what the teacher sees and learns to paint what the teacher paints:

    T = D(AdaIN(E(c), E(s)))    (the teacher, under no_grad; every level its decoder reads)
    L = ‖y − T‖₁ + Σ_l MSE(φ_l(y), φ_l(T)) + μ Σ_k ‖m(φ_k(y)) − m(φ_k(T))‖² + ‖σ(φ_k(y)) − σ(φ_k(T))‖²
        + γ Σ_k MSE(G(φ_k(y)), G(φ_k(s))),
        l ∈ relu1_1, relu2_1, relu3_1,    k ∈ relu1_1 .. relu4_1

with ``φ`` brushwork's VGG19 normalised per layer (:data:`.losses.LAYER_SCALE`) and ``m, σ``
per-channel means and standard deviations. The pixel term holds the colours, the shallow
features the edges and brush texture. A regression onto a fixed target converges in far fewer
steps than the style objective itself, and without the statistics term (``μ = 0``) needs no VGG
deeper than relu3_1 for the student's gradient: what lets a CPU train the students. A small
student regresses towards an average and paints more timidly than its teacher; the statistics
term (``μ > 0``) asks for the teacher's texture energy as well, and the Gram term (``γ > 0``, the
fast model only) for the style's own texture, so the student can paint more boldly than its teacher.

* the fast model learns random (photo, painting) pairs: arbitrary style at its speed;
* a feed-forward network learns one painting: the teacher's reading of it, at TransformerNet's speed.
"""

from __future__ import annotations

from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

from ..image import load_image, resize
from ..loaders import LoadedModel
from ..methods.adain import adain, channel_statistics
from ..methods.gatys import gram
from ..networks.fast_arbitrary import CHANNELS, FastArbitraryNet
from ..networks.transformer_net import TransformerNet
from ..networks.vgg import VGG19, load_vgg19
from ..tensor_files import read_tensors
from .card import inherited_licence
from .data import Augment, ImageSet, describe_augment, describe_images
from .loop import TrainSettings
from .losses import ADAIN_STYLE_LAYERS, features, gram_loss, mean_std_loss

DISTILL_LAYERS = ("relu1_1", "relu2_1", "relu3_1")


class _DistillTask:
    family = ""

    def __init__(self, network: nn.Module, teacher: LoadedModel, content: ImageSet, vgg: VGG19 | None,
                 statistics_weight: float, gram_weight: float = 0.0):
        self.network, self.teacher, self.content = network, teacher, content
        self.statistics_weight, self.gram_weight = statistics_weight, gram_weight
        self.vgg = vgg if vgg is not None else load_vgg19()
        self.memory_format = torch.contiguous_format

    def _move(self, device: torch.device, channels_last: bool) -> None:
        self.memory_format = torch.channels_last if channels_last else torch.contiguous_format
        for module in (self.network, self.vgg, self.teacher.network):
            module.to(device, memory_format=self.memory_format)
        self.content.to(device)

    def paint(self, content: torch.Tensor, style: torch.Tensor) -> torch.Tensor:
        """The teacher's image of every (content, style) pair (a style batch of 1 serves every content)."""
        net = self.teacher.network
        with torch.no_grad():
            targets = [
                adain(c, channel_statistics(c), channel_statistics(s))
                for c, s in zip(net.encode(content), net.encode(style), strict=True)
            ]
            return net.decode(targets).clamp(0, 1)

    def student(self, content: torch.Tensor, style: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError

    def pair(self, generator: torch.Generator, settings: TrainSettings) -> tuple[torch.Tensor, torch.Tensor]:
        raise NotImplementedError

    def losses(self, generator: torch.Generator, settings: TrainSettings) -> dict[str, torch.Tensor]:
        content, style = (x.contiguous(memory_format=self.memory_format) for x in self.pair(generator, settings))
        target = self.paint(content, style)
        output = self.student(content, style)
        layers = ADAIN_STYLE_LAYERS if self.statistics_weight or self.gram_weight else DISTILL_LAYERS
        with torch.no_grad():
            wanted = features(self.vgg, target, layers)
        produced = features(self.vgg, output, layers)
        pixels = F.l1_loss(output.float(), target)
        perceptual = sum(F.mse_loss(produced[layer], wanted[layer]) for layer in DISTILL_LAYERS)
        losses = {"pixels": pixels, "features": perceptual}
        total = pixels + perceptual
        if self.statistics_weight:
            losses["statistics"] = mean_std_loss(produced, wanted)
            total = total + self.statistics_weight * losses["statistics"]
        if self.gram_weight:
            with torch.no_grad():
                painting = features(self.vgg, style, ADAIN_STYLE_LAYERS)
            losses["gram"] = gram_loss(produced, {layer: gram(value) for layer, value in painting.items()})
            total = total + self.gram_weight * losses["gram"]
        return {"total": total, **losses}

    def describe(self) -> dict[str, object]:
        card = read_tensors(self.teacher.paths[0], "teacher weights")[1]
        teacher = {"model": self.teacher.name, "licences": {inherited_licence(card.get("licence", "")): 1}}
        statistics = (f" + {self.statistics_weight} x mean/std of {ADAIN_STYLE_LAYERS[0]}..{ADAIN_STYLE_LAYERS[-1]}"
                      if self.statistics_weight else "")
        statistics += f" + {self.gram_weight} x Gram to the style image" if self.gram_weight else ""
        return {"content": describe_images(self.content.paths), "teacher": teacher,
                "loss": f"L1 pixels + MSE of {', '.join(DISTILL_LAYERS)}{statistics} to the teacher "
                        f"{self.teacher.name}'s image"}


class FastDistillTask(_DistillTask):
    """brushwork's fast model, taught arbitrary style by an AdaIN teacher on random pairs."""

    family = "fast"

    def __init__(self, content: ImageSet, styles: ImageSet, teacher: LoadedModel, vgg: VGG19 | None = None,
                 statistics_weight: float = 0.0, augment: Augment | None = None, gram_weight: float = 0.0,
                 channels: tuple[int, int, int] = CHANNELS):
        super().__init__(FastArbitraryNet(channels), teacher, content, vgg, statistics_weight, gram_weight)
        self.styles, self.augment = styles, augment

    def to(self, device: torch.device, channels_last: bool) -> None:
        self._move(device, channels_last)
        self.styles.to(device)

    def pair(self, generator, settings):
        return (self.content.crops(settings.batch, settings.size, generator),
                self.styles.crops(settings.batch, settings.size, generator, augment=self.augment))

    def student(self, content, style):
        return self.network(content, self.network.style_code(style))

    def describe(self):
        return super().describe() | {"style": describe_images(self.styles.paths),
                                     "channels": list(self.network.channels)} | describe_augment(self.augment)


class FeedForwardDistillTask(_DistillTask):
    """A TransformerNet for one painting, taught by an AdaIN teacher: the painting is read at the
    crops' pixel count, as the teacher reads a style at its content's size."""

    family = "feedforward"

    def __init__(self, content: ImageSet, style: Path, teacher: LoadedModel, vgg: VGG19 | None = None,
                 statistics_weight: float = 0.0):
        super().__init__(TransformerNet(), teacher, content, vgg, statistics_weight)
        self.style_path = style
        self.style = load_image(style, "style").rgb
        self._read: torch.Tensor | None = None

    def to(self, device: torch.device, channels_last: bool) -> None:
        self._move(device, channels_last)
        self.style = self.style.to(device)

    def pair(self, generator, settings):
        if self._read is None:
            height, width = self.style.shape[-2:]
            scale = settings.size / (height * width) ** 0.5
            self._read = resize(self.style, (max(8, round(height * scale)), max(8, round(width * scale))))
        return self.content.crops(settings.batch, settings.size, generator), self._read

    def student(self, content, style):
        return self.network(content)

    def describe(self):
        return super().describe() | {"style": describe_images([self.style_path])}
