"""Masks: read from alpha or grey, resized by coverage, feathered, checked."""

import numpy as np
import pytest
import torch
from PIL import Image

from plugin_core.errors import MaskError
from plugin_core.masks import check_not_empty, coverage, feather, load_mask, resize_mask


def test_alpha_wins_over_grey(tmp_path):
    pixels = np.full((32, 48, 4), 255, np.uint8)
    pixels[..., 3] = 0
    pixels[:, :24, 3] = 255
    Image.fromarray(pixels, "RGBA").save(tmp_path / "cutout.png")
    mask = load_mask(tmp_path / "cutout.png")
    assert mask.shape == (1, 1, 32, 48)
    assert mask[..., :24].min() == 1 and mask[..., 24:].max() == 0


def test_grey_mask_and_resize_warning(tmp_path):
    grey = np.zeros((32, 48), np.uint8)
    grey[16:] = 128
    Image.fromarray(grey).save(tmp_path / "grey.png")
    assert torch.allclose(load_mask(tmp_path / "grey.png")[0, 0, 20], torch.full((48,), 128 / 255))
    with pytest.warns(UserWarning, match="48x32, the image is 96x64: resized"):
        mask = load_mask(tmp_path / "grey.png", (64, 96))
    assert mask.shape == (1, 1, 64, 96)


def test_shrinking_keeps_coverage_exactly():
    mask = torch.zeros(1, 1, 64, 64)
    mask[..., :, :16] = 1
    small = resize_mask(mask, (8, 8))
    assert torch.isclose(small.mean(), mask.mean())
    assert small[0, 0, 0, 1] == 1 and small[0, 0, 0, 2] == 0


def test_feather_softens_edges_only():
    mask = torch.zeros(1, 1, 40, 40)
    mask[..., :, :20] = 1
    soft = feather(mask, 6)
    assert soft[0, 0, 20, 0] == pytest.approx(1, abs=1e-4) and soft[0, 0, 20, 39] == pytest.approx(0, abs=1e-4)
    assert 0.3 < soft[0, 0, 20, 19] < 0.7
    assert torch.equal(feather(mask, 0), mask)


def test_empty_mask_is_an_error_and_coverage_unions():
    with pytest.raises(MaskError, match="sky.png is empty"):
        check_not_empty(torch.zeros(1, 1, 8, 8), "sky.png")
    a, b = torch.zeros(1, 1, 2, 2), torch.zeros(1, 1, 2, 2)
    a[..., 0, :] = 1
    b[..., :, 0] = 0.5
    assert torch.allclose(coverage([a, b]), torch.tensor([[[[1.0, 1.0], [0.5, 0.0]]]]))
