"""Styles generated in code: deterministic with a seed, distinct, and covering the colour wheel."""

from __future__ import annotations

import colorsys

import numpy as np
import pytest

from plugin_core.errors import RequestError
from plugin_core.training.generated import FAMILIES, generate

SIZE = 96
HUE_BINS = 12
"""Sectors of the colour wheel, 30° each."""


@pytest.mark.parametrize("family", list(FAMILIES))
def test_the_same_seed_gives_the_same_pixels_and_another_seed_others(family):
    first, again, other = (np.asarray(generate(family, seed, SIZE)) for seed in (3, 3, 4))
    assert first.shape == (SIZE, SIZE, 3) and first.dtype == np.uint8
    assert np.array_equal(first, again)
    assert np.abs(first.astype(int) - other.astype(int)).mean() > 10
    assert first.std() > 10, "a generated style is a flat colour"


def test_the_families_together_cover_every_sector_of_the_colour_wheel():
    """Saturated pixels of 7 families x 12 seeds put at least 3 % of themselves in each 30° sector."""
    counts = np.zeros(HUE_BINS)
    for family in FAMILIES:
        for seed in range(12):
            pixels = np.asarray(generate(family, seed, 48)).reshape(-1, 3) / 255
            hsv = np.array([colorsys.rgb_to_hsv(*pixel) for pixel in pixels[::7]])
            vivid = hsv[(hsv[:, 1] > 0.3) & (hsv[:, 2] > 0.2)]
            counts += np.histogram(vivid[:, 0], bins=HUE_BINS, range=(0, 1))[0]
    shares = counts / counts.sum()
    assert shares.min() > 0.03, f"hue sectors under-covered: {np.round(shares, 3)}"


def test_an_unknown_family_is_named():
    with pytest.raises(RequestError, match="unknown generated style family 'plaid'"):
        generate("plaid", 0)
