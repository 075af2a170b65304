"""brushwork's own trained models in ``models/``: listed, checksummed, carded, found by name, and
painting what they painted when they were reviewed (golden images, float32)."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from plugin_core import api, registry
from plugin_core.image import load_image, save_image
from plugin_core.loaders import load_model
from plugin_core.regions import Region, Style
from plugin_core.tensor_files import read_tensors
from plugin_core.training.card import CARD_FIELDS

from .conftest import example

GOLDEN = Path(__file__).parent / "golden"
GOLDEN_SIDE = 192
GOLDEN_TOLERANCE = 2 / 255
"""Mean absolute difference allowed: one pass in float32 differs between CPUs by rounding only
(well under 1/255); another model or another style differs by more than 10/255."""
SHIPPED = [model for model in registry.read_manifest().values() if all(not file.url for file in model.files)]


def test_brushwork_ships_an_arbitrary_model_of_each_kind_and_four_styles():
    families = [model.family for model in SHIPPED]
    assert families.count("adain") >= 1 and families.count("fast") >= 1 and families.count("feedforward") >= 4


@pytest.mark.parametrize("model", SHIPPED, ids=lambda model: model.name)
def test_a_shipped_model_matches_its_checksum_and_card(model):
    checks = registry.verify([model.name])
    for check in checks:
        assert check.status == "ok", f"{check.file}: {check.status} {check.detail}"
        assert check.path.parent == registry.PROJECT_MODELS
    weights = {file.name for file in model.files}
    for check in (check for check in checks if check.file in weights):
        state, card = read_tensors(check.path)
        assert set(CARD_FIELDS) <= set(card) and card["family"] == model.family
        assert not card["licence"].startswith("undetermined") and card["licence"].split(" ")[0] in model.licence
        assert {tensor.dtype for tensor in state.values()} == {torch.float16}
        assert (registry.PROJECT_MODELS / f"{Path(check.file).stem}.md").is_file()


@pytest.mark.parametrize("model", SHIPPED, ids=lambda model: model.name)
def test_a_shipped_model_loads_by_name_and_is_the_default_of_its_family(model):
    loaded = load_model(model.name, model.family)
    assert loaded.family == model.family
    first = next(m for m in registry.read_manifest().values() if m.family == model.family)
    assert registry.default_model(model.family) == first.name and first in SHIPPED


def _paint(model) -> torch.Tensor:
    photo = example("photo.jpg", GOLDEN_SIDE)
    style = [] if model.family == "feedforward" else [Style(example("painting.jpg", GOLDEN_SIDE))]
    regions = [Region([Style(model=model.name)])] if model.family == "feedforward" else [Region(style)]
    request = api.StyleRequest(photo, regions, method=model.family, model=None if model.family == "feedforward"
                               else model.name, size=None, precision="float32", device="cpu", watermark=False)
    return api.stylize(request)  # unmarked: the goldens hold the painting, and the mark is tested on its own


@pytest.mark.parametrize("model", SHIPPED, ids=lambda model: model.name)
def test_a_shipped_model_paints_its_golden_image(model):
    out = _paint(model)
    golden = GOLDEN / f"{model.name}_photo_{GOLDEN_SIDE}.png"
    if not golden.exists():  # a new golden: write it, and fail so that it gets looked at
        save_image(golden, out)
        pytest.fail(f"golden image written to {golden}; look at it and commit it")
    assert (out - load_image(golden).rgb).abs().mean() < GOLDEN_TOLERANCE
    assert (out - example("photo.jpg", GOLDEN_SIDE)).abs().mean() > 10 / 255  # and it is not simply the photo


def test_the_default_method_is_brushworks_own_adain_model():
    request = api.simple_request(example("photo.jpg", 64), [example("painting.jpg", 64)], size=None)
    assert request.method == "adain"
    out = api.stylize(request)
    assert out.shape == (1, 3, 32, 64) and (out - example("photo.jpg", 64)).abs().mean() > 10 / 255
