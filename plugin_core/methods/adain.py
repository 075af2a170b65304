"""AdaIN arbitrary style transfer (Huang & Belongie 2017).

With ``f = E(x)`` the encoder's relu4_1 features and ``μ, σ`` per-channel mean and standard deviation,

    AdaIN(f_c, f_s) = σ(f_s) (f_c − μ(f_c)) / σ(f_c) + μ(f_s),    output = D(α t + (1 − α) f_c).

* several styles with weights ``w_k`` (summing to 1): the target statistics are ``Σ w_k μ_k`` and
  ``Σ w_k σ_k``, which equals ``Σ w_k AdaIN(f_c, f_k)`` since AdaIN is affine in them;
* regions: region ``r`` with mask ``m_r`` (at feature resolution) measures the content statistics
  under ``m_r`` and is written back where ``m_r`` is on, ``t = Σ m_r t_r / Σ m_r`` (the content's
  own features where no mask is on);
* levels: the classic decoder reads relu4_1 only; brushwork's decoder with skips
  (:mod:`..networks.skip_decoder`) also reads relu1_1..relu3_1, and every level gets its own
  ``α t + (1 − α) f_c`` with the style's statistics at that level.

Statistics use the unbiased weighted variance ``Σ m (f − μ)² / (Σ m − Σ m² / Σ m)`` plus ``EPS``,
which is ``torch.var`` when there is no mask. The networks run in their own dtype (bfloat16 where
the hardware has it), statistics and feature arithmetic in float32. Style statistics are cached per encoder and style
image, so a batch of frames (or repeated calls) with one style encodes it once. Content and style
statistics are :func:`..statistics.shared`, so tiles of one image use the thumbnail's.
"""

from __future__ import annotations

import hashlib
import weakref
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass

import torch
from torch import nn

from ..errors import RequestError
from ..image import resize, style_working_size, with_margin
from ..masks import resize_mask
from ..networks.decoder import SCALE
from ..networks.vgg import VGG19
from ..regions import Region
from ..statistics import shared

EPS = 1e-5
MIN_STYLE_SIDE = 2 * SCALE
MARGIN = 4 * SCALE
"""Pixels reflected around the content and cropped off again: what the encoder's zero padding and
the decoder do at the image's borders falls in this margin, not in the picture."""
STYLE_CACHE_SIZE = 32
"""Style statistics kept per encoder (least recently used dropped first)."""

Statistics = tuple[torch.Tensor, torch.Tensor]


@dataclass(frozen=True)
class AdaINSettings:
    """``alpha``: how far the features move to the style's; ``style_size``: long side the styles
    are read at (None: the content's pixel count)."""

    alpha: float = 1.0
    style_size: int | None = None

    def __post_init__(self):
        if not 0 <= self.alpha <= 1:
            raise RequestError(f"AdaIN alpha must be between 0 and 1, got {self.alpha}")


class AdaINNet(nn.Module):
    """An encoder (VGG19) and the decoder trained on it; the decoder names the layers it reads."""

    def __init__(self, encoder: VGG19, decoder: nn.Module):
        super().__init__()
        self.encoder = encoder
        self.decoder = decoder

    @property
    def levels(self) -> tuple[str, ...]:
        return self.decoder.levels

    @property
    def dtype(self) -> torch.dtype:
        return next(self.decoder.parameters()).dtype

    def encode(self, image: torch.Tensor) -> list[torch.Tensor]:
        """The features of every level, float32, of an RGB image in 0..1."""
        image = image.to(self.dtype, memory_format=torch.channels_last)
        features = self.encoder(image, self.levels)
        return [features[level].float() for level in self.levels]

    def decode(self, features: Sequence[torch.Tensor]) -> torch.Tensor:
        """RGB, float32 and unclamped, of every level's features."""
        return self.decoder(*(f.to(self.dtype, memory_format=torch.channels_last) for f in features)).float()


def channel_statistics(features: torch.Tensor, mask: torch.Tensor | None = None) -> Statistics:
    """Per-channel ``(μ, σ)`` of ``[B,C,H,W]`` features, each ``[B,C,1,1]``, weighted by ``mask``
    (none: every pixel alike, where the weighted variance is the unbiased one)."""
    if mask is None:
        variance, mean = torch.var_mean(features, (2, 3), keepdim=True, correction=1)
        return mean, (variance + EPS).sqrt()
    total = mask.sum((2, 3), keepdim=True)
    mean = (features * mask).sum((2, 3), keepdim=True) / total.clamp_min(EPS)
    denominator = (total - mask.pow(2).sum((2, 3), keepdim=True) / total.clamp_min(EPS)).clamp_min(EPS)
    variance = ((features - mean).pow(2) * mask).sum((2, 3), keepdim=True) / denominator
    return mean, (variance + EPS).sqrt()


def adain(features: torch.Tensor, content: Statistics, style: Statistics) -> torch.Tensor:
    """``σ_s (f − μ_c) / σ_c + μ_s``, in one pass over ``f`` as ``a f + b`` (``a = σ_s / σ_c``)."""
    scale = style[1] / content[1]
    return torch.addcmul(style[0] - content[0] * scale, features, scale)


_style_cache: weakref.WeakKeyDictionary[nn.Module, OrderedDict] = weakref.WeakKeyDictionary()


def style_statistics(net: AdaINNet, style: torch.Tensor, size: tuple[int, int]) -> list[Statistics]:
    """Every level's statistics of ``style`` read at ``size``, computed once per (encoder, image, size)."""
    cache = _style_cache.setdefault(net.encoder, OrderedDict())
    digest = hashlib.sha1(style.detach().float().cpu().contiguous().numpy().tobytes()).hexdigest()
    key = (digest, tuple(style.shape), size, str(style.device), net.levels)
    if key in cache:
        cache.move_to_end(key)
        return cache[key]
    with torch.inference_mode():
        statistics = [channel_statistics(features) for features in net.encode(resize(style, size))]
    cache[key] = statistics
    while len(cache) > STYLE_CACHE_SIZE:
        cache.popitem(last=False)
    return statistics


def mix(statistics: Sequence[Statistics], weights: Sequence[float]) -> Statistics:
    """``(Σ w_k μ_k, Σ w_k σ_k)``."""
    mean = sum(w * s[0] for s, w in zip(statistics, weights, strict=True))
    std = sum(w * s[1] for s, w in zip(statistics, weights, strict=True))
    return mean, std


def target_features(
    features: torch.Tensor, styles: Sequence[Statistics], masks: Sequence[torch.Tensor | None], alpha: float
) -> torch.Tensor:
    """``α t + (1 − α) f_c`` with ``t`` the regions' AdaIN outputs written where their masks are on."""
    if len(masks) == 1 and masks[0] is None:  # one region over the whole image: nothing to blend
        return torch.lerp(features, adain(features, shared(lambda: channel_statistics(features)), styles[0]), alpha)
    weighted = torch.zeros_like(features)
    cover = features.new_zeros(features.shape[0], 1, *features.shape[-2:])
    for style, mask in zip(styles, masks, strict=True):
        region = adain(features, shared(lambda mask=mask: channel_statistics(features, mask)), style)
        weight = torch.ones_like(cover) if mask is None else mask
        weighted += weight * region
        cover += weight
    covered = cover > 0
    target = torch.where(covered, weighted / cover.clamp_min(EPS), features)
    return torch.lerp(features, target, alpha)


def stylize(
    net: AdaINNet, content: torch.Tensor, regions: Sequence[Region], settings: AdaINSettings = AdaINSettings()
) -> torch.Tensor:
    """Stylize ``content`` ``[B,3,H,W]`` (any size: a margin is reflected around it, it is padded to a
    multiple of 8, and the result is cropped back)."""
    height, width = content.shape[-2:]
    padded, margin = with_margin(content, MARGIN, SCALE)
    with torch.inference_mode():
        features = net.encode(padded)
        styles, masks = [], []  # per region: a list over levels
        for region in regions:
            statistics = [
                shared(lambda image=style.image: style_statistics(
                    net, image.to(content),
                    style_working_size(image.shape[-2:], (height, width), settings.style_size, MIN_STYLE_SIDE),
                ))
                for style in region.styles
            ]
            weights = region.normalised_weights()
            styles.append([mix([s[level] for s in statistics], weights) for level in range(len(features))])
            mask = None if region.mask is None else with_margin(region.mask.to(content), margin, SCALE, "replicate")[0]
            masks.append([None if mask is None else resize_mask(mask, f.shape[-2:]) for f in features])
        targets = [
            target_features(f, [s[level] for s in styles], [m[level] for m in masks], settings.alpha)
            for level, f in enumerate(features)
        ]
        image = net.decode(targets)
    return image[..., margin : margin + height, margin : margin + width].clamp(0, 1).contiguous()
