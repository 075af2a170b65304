"""Colour transfer: each method matches the statistics it promises, inside masks only."""

import pytest
import torch

from plugin_core.color import LINEAR_MODES, rgb_to_lab, rgb_to_yiq, transfer_color
from plugin_core.errors import RequestError


def _cov(pixels: torch.Tensor) -> torch.Tensor:
    return torch.cov(pixels.flatten(1).double())


@pytest.fixture
def dull():
    """A low-contrast, bluish image well inside 0..1 (so no clamping hides errors)."""
    generator = torch.Generator().manual_seed(0)
    base = torch.rand(2, 3, 40, 50, generator=generator) * 0.2 + torch.tensor([0.3, 0.35, 0.5]).view(1, 3, 1, 1)
    return base


@pytest.fixture
def warm():
    generator = torch.Generator().manual_seed(1)
    mixed = torch.rand(1, 3, 40, 50, generator=generator)
    mixed = torch.stack([mixed[:, 0], 0.5 * mixed[:, 0] + 0.5 * mixed[:, 1], mixed[:, 2]], 1)
    return mixed * 0.3 + torch.tensor([0.45, 0.3, 0.2]).view(1, 3, 1, 1)


def _distinct(batch: int, seed: int) -> torch.Tensor:
    """Pixels with no ties (ties share one output value by design), 2000 per channel."""
    generator = torch.Generator().manual_seed(seed)
    values = torch.stack([torch.randperm(2000, generator=generator) for _ in range(3 * batch)]).float() / 2000
    return (values * 0.6 + 0.2).view(batch, 3, 40, 50)


def test_histogram_matching_is_exact():
    dull, warm = _distinct(2, 0) * 0.5, _distinct(1, 1) ** 2
    out = transfer_color(dull, warm, "histogram")
    for b in range(2):
        assert torch.allclose(out[b].flatten(1).sort(1).values, warm[0].flatten(1).sort(1).values, atol=1e-6)
    # the order of pixels (the picture) is the content's
    assert torch.equal(out[0, 0].flatten().argsort(), dull[0, 0].flatten().argsort())


def test_reinhard_matches_mean_and_std_in_lab(dull, warm):
    out = rgb_to_lab(transfer_color(dull, warm, "reinhard")).flatten(2)
    target = rgb_to_lab(warm).flatten(2)
    assert torch.allclose(out.mean(2), target.mean(2).expand(2, 3), atol=2e-3)
    assert torch.allclose(out.std(2), target.std(2).expand(2, 3), rtol=2e-2)


@pytest.mark.parametrize("mode", LINEAR_MODES)
def test_linear_matches_mean_and_covariance(dull, warm, mode):
    out = transfer_color(dull, warm, "linear", linear_mode=mode)
    assert out.min() > 0 and out.max() < 1  # nothing clamped, so the statistics are exact
    for b in range(2):
        assert torch.allclose(out[b].flatten(1).mean(1), warm[0].flatten(1).mean(1), atol=1e-4)
        assert torch.allclose(_cov(out[b]), _cov(warm[0]), atol=2e-5)


def test_linear_modes_differ_but_agree_on_statistics(dull, warm):
    cholesky = transfer_color(dull, warm, "linear", linear_mode="cholesky")
    pca = transfer_color(dull, warm, "linear", linear_mode="pca")
    assert (cholesky - pca).abs().max() > 1e-3


def test_luminance_keeps_the_image_luminance_and_the_reference_chroma(dull, warm):
    reference = warm.expand(2, -1, -1, -1)
    out = transfer_color(dull, reference, "luminance")
    yiq_out, yiq_image, yiq_reference = rgb_to_yiq(out), rgb_to_yiq(dull), rgb_to_yiq(reference)
    assert torch.allclose(yiq_out[:, 0], yiq_image[:, 0], atol=1e-5)
    assert torch.allclose(yiq_out[:, 1:], yiq_reference[:, 1:], atol=1e-5)


def test_masks_limit_where_colours_are_measured_and_applied():
    dull, warm = _distinct(1, 2), _distinct(1, 3) ** 3
    mask = torch.zeros(1, 1, 40, 50)
    mask[..., :, :25] = 1
    reference_mask = torch.zeros(1, 1, 40, 50)
    reference_mask[..., 20:, :] = 1
    out = transfer_color(dull, warm, "histogram", mask=mask, reference_mask=reference_mask)
    assert torch.equal(out[..., 25:], dull[..., 25:])
    inside = out[0, :, :, :25].flatten(1).sort(1).values
    reference_inside = warm[0, :, 20:, :].flatten(1).sort(1).values
    assert torch.allclose(inside, reference_inside, atol=1e-6)


def test_bad_requests_are_named(dull, warm):
    with pytest.raises(RequestError, match="unknown colour method 'sepia'"):
        transfer_color(dull, warm, "sepia")
    with pytest.raises(RequestError, match="unknown linear colour mode 'qr'"):
        transfer_color(dull, warm, "linear", linear_mode="qr")
    with pytest.raises(RequestError, match="mask selects no pixel"):
        transfer_color(dull, warm, "reinhard", reference_mask=torch.zeros(1, 1, 40, 50))
    with pytest.raises(RequestError, match="reference at the image's size"):
        transfer_color(dull, warm[..., :20, :20], "luminance")
