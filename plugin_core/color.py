"""Colour transfer between images ``[B,3,H,W]`` in 0..1, optionally restricted to masks.

``transfer_color(image, reference, method)`` recolours ``image`` so its colours follow
``reference``. Statistics are measured inside ``mask`` (on ``image``) and ``reference_mask`` (on
``reference``); the result is applied inside ``mask`` only (soft masks blend).

Methods:

* ``histogram``: exact per-channel CDF matching, ``x -> F_ref^{-1}(F_x(x))``;
* ``reinhard``: mean and std matched per channel in Ruderman's decorrelated lαβ space
  (Reinhard et al. 2001);
* ``linear``: ``x -> A (x - mu_x) + mu_ref`` with ``A Σ_x A^T = Σ_ref`` (Gatys et al. 2017):
  ``cholesky`` ``A = L_ref L_x^{-1}``, ``pca`` ``A = V_ref Λ_ref^½ Λ_x^-½ V_x^T``,
  ``sym`` ``A = Σ_ref^½ Σ_x^-½`` (image analogies), ``mkl`` (Monge-Kantorovich)
  ``A = Σ_x^-½ (Σ_x^½ Σ_ref Σ_x^½)^½ Σ_x^-½``;
* ``luminance``: keep ``image``'s luminance and take the chroma of ``reference`` pixel by pixel
  (YIQ), so both must have the same size.
"""

from __future__ import annotations

import torch

from .errors import RequestError

MATCHES = ("histogram", "reinhard", "linear", "luminance")
"""How :func:`transfer_color` matches colours (the methods of painting are :data:`plugin_core.api.METHODS`)."""
LINEAR_MODES = ("cholesky", "pca", "sym", "mkl")
MEASURE_THRESHOLD = 0.5
"""A soft mask counts a pixel as inside, for measuring statistics, from this fraction of its peak."""
EPS = 1e-5

RGB_TO_YIQ = torch.tensor(
    [[0.299, 0.587, 0.114], [0.595716, -0.274453, -0.321263], [0.211456, -0.522591, 0.311135]]
)
RGB_TO_LMS = torch.tensor([[0.3811, 0.5783, 0.0402], [0.1967, 0.7244, 0.0782], [0.0241, 0.1288, 0.8444]])
LOG_LMS_TO_LAB = torch.diag(torch.tensor([3**-0.5, 6**-0.5, 2**-0.5])) @ torch.tensor(
    [[1.0, 1.0, 1.0], [1.0, 1.0, -2.0], [1.0, -1.0, 0.0]]
)


def _apply_matrix(matrix: torch.Tensor, image: torch.Tensor) -> torch.Tensor:
    return torch.einsum("ij,bjhw->bihw", matrix.to(image), image)


def rgb_to_yiq(image: torch.Tensor) -> torch.Tensor:
    return _apply_matrix(RGB_TO_YIQ, image)


def yiq_to_rgb(image: torch.Tensor) -> torch.Tensor:
    return _apply_matrix(torch.linalg.inv(RGB_TO_YIQ), image)


def luminance(image: torch.Tensor) -> torch.Tensor:
    """Rec. 601 luma ``Y = 0.299 R + 0.587 G + 0.114 B`` as ``[B,1,H,W]``."""
    return rgb_to_yiq(image)[:, :1]


def rgb_to_lab(image: torch.Tensor) -> torch.Tensor:
    """Ruderman's lαβ: log10 of LMS cone responses, decorrelated."""
    lms = _apply_matrix(RGB_TO_LMS, image).clamp_min(EPS)
    return _apply_matrix(LOG_LMS_TO_LAB, torch.log10(lms))


def lab_to_rgb(image: torch.Tensor) -> torch.Tensor:
    lms = torch.pow(10.0, _apply_matrix(torch.linalg.inv(LOG_LMS_TO_LAB), image))
    return _apply_matrix(torch.linalg.inv(RGB_TO_LMS), lms)


def _inside(pixels: torch.Tensor, mask: torch.Tensor | None) -> torch.Tensor:
    """``[3,H,W]`` -> ``[N,3]`` pixels where ``mask`` ``[1,H,W]`` is on (all of them without one)."""
    flat = pixels.flatten(1).T
    if mask is None:
        return flat
    weights = mask.flatten()
    if float(weights.max()) <= 0:
        raise RequestError("colour transfer: the mask selects no pixel to measure colours in")
    return flat[weights >= MEASURE_THRESHOLD * weights.max()]


def _histogram(image: torch.Tensor, source: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Map each channel of ``image`` ``[3,H,W]`` through ``F_target^{-1}(F_source(x))``.

    ``F_source`` is the empirical CDF of the ``[N,3]`` source pixels (ranks, mid-point quantiles),
    ``F_target^{-1}`` the linearly interpolated quantile function of the ``[M,3]`` target pixels.
    When ``image`` is exactly the source pixels and N == M, the output's sorted values equal the
    target's.
    """
    out = torch.empty_like(image)
    for c in range(3):
        source_sorted = source[:, c].sort().values
        target_sorted = target[:, c].sort().values
        values = image[c].flatten()
        # mid-rank of each value among the source pixels (ties share their middle rank)
        below = torch.searchsorted(source_sorted, values, right=False).to(values.dtype)
        upto = torch.searchsorted(source_sorted, values, right=True).to(values.dtype)
        quantile = (below + upto) / 2 / source_sorted.numel()
        position = (quantile * target_sorted.numel() - 0.5).clamp(0, target_sorted.numel() - 1)
        low = position.floor().long()
        high = (low + 1).clamp_max(target_sorted.numel() - 1)
        frac = position - low
        out[c] = (target_sorted[low] * (1 - frac) + target_sorted[high] * frac).view_as(image[c])
    return out


def _sqrtm(cov: torch.Tensor, power: float = 0.5) -> torch.Tensor:
    values, vectors = torch.linalg.eigh(cov)
    return vectors @ torch.diag(values.clamp_min(1e-12) ** power) @ vectors.T


def linear_map(source_cov: torch.Tensor, target_cov: torch.Tensor, mode: str) -> torch.Tensor:
    """The 3x3 ``A`` with ``A Σ_source A^T = Σ_target`` for a linear-transfer ``mode``."""
    if mode == "cholesky":
        return torch.linalg.cholesky(target_cov) @ torch.linalg.inv(torch.linalg.cholesky(source_cov))
    if mode == "pca":
        source_values, source_vectors = torch.linalg.eigh(source_cov)
        target_values, target_vectors = torch.linalg.eigh(target_cov)
        scale = torch.diag((target_values.clamp_min(EPS) / source_values.clamp_min(EPS)).sqrt())
        return target_vectors @ scale @ source_vectors.T
    if mode == "sym":
        return _sqrtm(target_cov) @ _sqrtm(source_cov, -0.5)
    if mode == "mkl":
        root, inverse_root = _sqrtm(source_cov), _sqrtm(source_cov, -0.5)
        return inverse_root @ _sqrtm(root @ target_cov @ root) @ inverse_root
    raise RequestError(f"unknown linear colour mode {mode!r}: use one of {', '.join(LINEAR_MODES)}")


def _mean_cov(pixels: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    pixels = pixels.double()
    mean = pixels.mean(0)
    centred = pixels - mean
    cov = centred.T @ centred / max(1, pixels.shape[0]) + EPS * torch.eye(3, dtype=torch.float64)
    return mean, cov


def _transfer_one(image, reference, method, linear_mode, mask, reference_mask) -> torch.Tensor:
    """One sample: ``[3,H,W]`` images, ``[1,H,W]`` masks or None."""
    if method == "luminance":
        yiq = rgb_to_yiq(image[None])[0]
        return yiq_to_rgb(torch.cat([yiq[:1], rgb_to_yiq(reference[None])[0, 1:]])[None])[0]
    if method == "reinhard":
        image_lab, reference_lab = rgb_to_lab(image[None])[0], rgb_to_lab(reference[None])[0]
        source, target = _inside(image_lab, mask), _inside(reference_lab, reference_mask)
        scale = target.std(0) / source.std(0).clamp_min(EPS)
        shifted = (image_lab - source.mean(0).view(3, 1, 1)) * scale.view(3, 1, 1) + target.mean(0).view(3, 1, 1)
        return lab_to_rgb(shifted[None])[0]
    source, target = _inside(image, mask), _inside(reference, reference_mask)
    if method == "histogram":
        return _histogram(image, source, target)
    source_mean, source_cov = _mean_cov(source)
    target_mean, target_cov = _mean_cov(target)
    matrix = linear_map(source_cov, target_cov, linear_mode)
    flat = image.flatten(1).double() - source_mean[:, None]
    return (matrix @ flat + target_mean[:, None]).to(image.dtype).view_as(image)


def transfer_color(
    image: torch.Tensor,
    reference: torch.Tensor,
    method: str,
    *,
    linear_mode: str = "cholesky",
    mask: torch.Tensor | None = None,
    reference_mask: torch.Tensor | None = None,
) -> torch.Tensor:
    """Recolour ``image`` ``[B,3,H,W]`` after ``reference`` (``[B,3,h,w]`` or ``[1,3,h,w]``).

    Masks are ``[B,1,H,W]`` or ``[1,1,H,W]``; the output is clamped to 0..1 and equals ``image``
    where ``mask`` is 0.
    """
    if method not in MATCHES:
        raise RequestError(f"unknown colour method {method!r}: use one of {', '.join(MATCHES)}")
    if method == "luminance" and reference.shape[-2:] != image.shape[-2:]:
        raise RequestError("luminance transfer needs the reference at the image's size")
    out = []
    for b in range(image.shape[0]):
        sample_mask = _sample(mask, b)
        recoloured = _transfer_one(
            image[b], _sample(reference, b), method, linear_mode, sample_mask, _sample(reference_mask, b)
        ).clamp(0, 1)
        if sample_mask is not None:
            recoloured = torch.lerp(image[b], recoloured, sample_mask)
        out.append(recoloured)
    return torch.stack(out)


def _sample(batch: torch.Tensor | None, index: int) -> torch.Tensor | None:
    """Item ``index`` of a batch, broadcasting a batch of one."""
    return None if batch is None else batch[min(index, batch.shape[0] - 1)]


def match_luminance(style: torch.Tensor, content: torch.Tensor, mask: torch.Tensor | None) -> torch.Tensor:
    """Grey style whose luminance mean and std match the content's (Gatys et al. 2017, luminance-only).

    The content's statistics are weighted by ``mask`` (its region) when there is one.
    """
    style_y, content_y = luminance(style), luminance(content)
    weights = torch.ones_like(content_y) if mask is None else mask
    mean = (content_y * weights).sum() / weights.sum()
    std = (((content_y - mean) ** 2 * weights).sum() / weights.sum()).sqrt()
    scaled = (style_y - style_y.mean()) / style_y.std().clamp_min(1e-5) * std + mean
    return scaled.clamp(0, 1).expand(-1, 3, -1, -1)
