"""Training losses measured with brushwork's frozen VGG19.

The Caffe VGG19's layers differ in scale by a factor of twenty (relu1_1 averages about 18,
relu4_1 about 345), so every loss reads the features divided by ``LAYER_SCALE``, the layer's mean
activation, as in the normalised VGG19 of Gatys et al.: each layer then counts alike.

* content: ``MSE(φ_l(y), φ_l(target))``;
* mean/std style (AdaIN, Huang & Belongie 2017): ``Σ_l ‖μ(φ_l(y)) − μ(φ_l(s))‖² + ‖σ(φ_l(y)) − σ(φ_l(s))‖²``
  (squared errors averaged over channels and the batch);
* Gram style (Johnson et al. 2016): ``Σ_l MSE(G(φ_l(y)), G(φ_l(s)))`` with ``G = F Fᵀ / (C H W)``;
* total variation: the mean squared difference of neighbouring pixels.

Statistics and Gram matrices are taken in float32 whatever the autocast dtype.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F

from ..methods.adain import adain, channel_statistics
from ..methods.gatys import gram
from ..networks.vgg import VGG19

LAYER_SCALE = {
    "relu1_1": 17.8, "relu1_2": 80.6, "relu2_1": 89.7, "relu2_2": 75.0, "relu3_1": 82.2,
    "relu3_4": 305.2, "relu4_1": 345.3, "relu4_2": 214.3, "relu4_4": 25.0, "relu5_1": 28.1,
}
"""Mean activation of each VGG19 layer over 64 random 256-pixel crops of the training photos
(``scripts/training_data.py``'s set, generator seed 0)."""

Features = dict[str, torch.Tensor]


def features(vgg: VGG19, image: torch.Tensor, layers: Sequence[str]) -> Features:
    """``{layer: φ_l(image) / LAYER_SCALE[l]}`` in float32."""
    return {name: value.float() / LAYER_SCALE[name] for name, value in vgg(image, list(layers)).items()}


def mean_std_loss(generated: Features, style: Features) -> torch.Tensor:
    total = 0.0
    for name, value in generated.items():
        mean, std = channel_statistics(value)
        style_mean, style_std = channel_statistics(style[name])
        total = total + F.mse_loss(mean, style_mean) + F.mse_loss(std, style_std)
    return total


def gram_loss(generated: Features, style_grams: dict[str, torch.Tensor]) -> torch.Tensor:
    """``style_grams``: the style's Gram matrix per layer, ``[1,C,C]`` (broadcast over the batch) or
    one per image of the batch."""
    return sum(F.mse_loss(gram(value), style_grams[name].expand(value.shape[0], -1, -1))
               for name, value in generated.items())


def total_variation(image: torch.Tensor) -> torch.Tensor:
    image = image.float()
    horizontal = (image[..., :, 1:] - image[..., :, :-1]).pow(2).mean()
    return horizontal + (image[..., 1:, :] - image[..., :-1, :]).pow(2).mean()


ADAIN_LAYER = "relu4_1"
ADAIN_STYLE_LAYERS = ("relu1_1", "relu2_1", "relu3_1", "relu4_1")


def adain_targets(
    vgg: VGG19, content: torch.Tensor, style: torch.Tensor, levels: Sequence[str] = (ADAIN_LAYER,)
) -> tuple[list[torch.Tensor], Features]:
    """``([t_l], style features)``: ``t_l = AdaIN(φ_l(c), φ_l(s))`` for each of ``levels`` in the
    encoder's own units (what a decoder is fed at inference), and the style's normalised features
    on ``ADAIN_STYLE_LAYERS``."""
    with torch.no_grad():
        content_features = vgg(content, levels)
        style_features = features(vgg, style, ADAIN_STYLE_LAYERS)
        targets = []
        for level in levels:
            content_level = content_features[level].float()
            style_statistics = channel_statistics(style_features[level] * LAYER_SCALE[level])
            targets.append(adain(content_level, channel_statistics(content_level), style_statistics))
    return targets, style_features


def adain_losses(
    vgg: VGG19, generated: torch.Tensor, targets: dict[str, torch.Tensor], style: Features, style_weight: float,
    gram_weight: float = 0.0,
) -> dict[str, torch.Tensor]:
    """Huang & Belongie's objective ``L = L_c + λ L_s (+ γ L_gram)``: each ``targets`` layer of the
    image against its AdaIN target (relu4_1 in the paper), mean/std of relu1_1..relu4_1 against the
    style's, and where ``γ > 0`` the Gram matrices of the same layers against each crop's own style
    (the texture's correlations, which mean and std alone leave free)."""
    produced = features(vgg, generated, ADAIN_STYLE_LAYERS)
    content = sum(F.mse_loss(produced[layer], target / LAYER_SCALE[layer]) for layer, target in targets.items())
    style_loss = mean_std_loss(produced, style)
    losses = {"total": content + style_weight * style_loss, "content": content, "style": style_loss}
    if gram_weight:
        losses["gram"] = gram_loss(produced, {layer: gram(value) for layer, value in style.items()})
        losses["total"] = losses["total"] + gram_weight * losses["gram"]
    return losses
