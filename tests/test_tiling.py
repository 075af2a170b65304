"""Tiling: tiles cover and blend exactly, shared statistics make tiled runs agree with whole ones
(random-weight networks: the maths of tiling, not the look of a style)."""

import pytest
import torch

from plugin_core import api, tiling
from plugin_core.controls import tile_side
from plugin_core.errors import Cancelled, RequestError
from plugin_core.loaders import load_model
from plugin_core.methods import adain, fast, feedforward
from plugin_core.methods.gatys import STYLE_LAYERS, gram, style_grams
from plugin_core.networks.fast_arbitrary import FastArbitraryNet
from plugin_core.networks.transformer_net import load_transformer_net
from plugin_core.regions import Region, Style
from plugin_core.statistics import recording, replaying, shared
from tests.conftest import example
from tests.weights import brushwork_decoder, fast_neural_style_state

TILE = 256
CPU = torch.device("cpu")


@pytest.fixture(scope="module")
def large_photo() -> torch.Tensor:
    """284x512: two rows and three columns of 256-pixel tiles, the last ones shorter."""
    return example("photo.jpg", 768)[..., 100:384, 50:562].contiguous()


@pytest.fixture(scope="module")
def style() -> torch.Tensor:
    return example("painting.jpg", 256)


@pytest.fixture(scope="module")
def runs(tmp_path_factory, style):
    """Each one-pass method as ``run(content, regions)``, with the regions it paints."""
    torch.manual_seed(0)
    fast_net = FastArbitraryNet().eval().requires_grad_(False)
    decoder = brushwork_decoder(tmp_path_factory.mktemp("adain"))
    adain_net = load_model(decoder, "adain", CPU).network
    transformer = load_transformer_net(fast_neural_style_state(0), "random").eval().requires_grad_(False)
    return {
        "adain": (lambda c, r: adain.stylize(adain_net, c, r, adain.AdaINSettings(style_size=TILE)),
                  [Region([Style(style)])]),
        "fast": (lambda c, r: fast.stylize(fast_net, c, r, style_size=TILE), [Region([Style(style)])]),
        "feedforward": (lambda c, r: feedforward.stylize(c, r), [Region([Style(None, 1.0, transformer)])]),
    }


@pytest.mark.parametrize("height, width", [(284, 512), (256, 700), (100, 90), (513, 257)])
def test_tiles_cover_the_image_from_aligned_origins(height, width):
    covered = torch.zeros(height, width)
    for box in tiling.boxes(height, width, TILE):
        assert box.top % tiling.ALIGN == 0 and box.left % tiling.ALIGN == 0
        assert box.top + box.height <= height and box.left + box.width <= width
        box.crop(covered).add_(1)
    assert covered.min() >= 1
    assert tiling.count(height, width, TILE) == len(tiling.boxes(height, width, TILE))


def test_blending_tiles_of_an_image_gives_the_image_back(large_photo):
    blended = tiling.blend(lambda box: box.crop(large_photo), large_photo.shape, TILE)
    assert torch.allclose(blended, large_photo, atol=1e-6)


def test_weights_drop_the_outer_quarter_of_an_overlap_and_sum_to_one():
    length, overlap = 600, tiling.OVERLAP
    total = torch.zeros(length)
    for start in tiling.starts(length, TILE, overlap):
        size = min(TILE, length - start)
        weight = tiling.ramp(length, start, size, overlap)
        if start > 0:
            assert weight[: overlap // 4].max() == 0 and weight[overlap - overlap // 4 : overlap].min() == 1
        total[start : start + size] += weight
    assert torch.allclose(total, torch.ones(length))


def test_a_replay_hands_back_the_recorded_values_in_order():
    with recording() as tape:
        first, second = shared(lambda: torch.ones(1)), shared(lambda: torch.zeros(1))
    with replaying(tape):
        assert shared(lambda: torch.full((1,), 7.0)) is first
        assert shared(lambda: torch.full((1,), 7.0)) is second
        with pytest.raises(RuntimeError, match="past the recording"):
            shared(lambda: torch.ones(1))
    assert shared(lambda: torch.full((1,), 7.0)).item() == 7


@pytest.mark.parametrize("method", ["adain", "fast", "feedforward"])
def test_tiled_with_the_whole_images_statistics_matches_untiled(runs, large_photo, method):
    run, regions = runs[method]
    whole = run(large_photo, regions)
    tiled = tiling.stylize_tiled(run, large_photo, regions, TILE, thumbnail=max(large_photo.shape[-2:]))
    assert (tiled - whole).abs().max() < 0.01


def _seam_energy(image: torch.Tensor, columns: list[int]) -> float:
    """Mean |horizontal gradient| across ``columns`` over its mean across all columns."""
    gradient = (image[..., 1:] - image[..., :-1]).abs().mean((0, 1, 2))
    return float(gradient[columns].mean() / gradient.mean())


@pytest.mark.parametrize("method", ["adain", "fast", "feedforward"])
def test_thumbnail_statistics_leave_no_seams(runs, large_photo, method):
    """Seam energy where tiles meet stays at the untiled image's level; cutting tiles that each
    normalise by their own statistics, the control, leaves a measurable step."""
    run, regions = runs[method]
    width = large_photo.shape[-1]
    whole = run(large_photo, regions)
    tiled = tiling.stylize_tiled(run, large_photo, regions, TILE)
    blend_columns = [
        column for start in tiling.starts(width, TILE, tiling.OVERLAP)[1:]
        for column in range(start + tiling.OVERLAP // 4, start + 3 * tiling.OVERLAP // 4)
    ]
    assert _seam_energy(tiled, blend_columns) < _seam_energy(whole, blend_columns) * 1.1
    cut = width // 2
    naive = torch.cat([run(large_photo[..., :cut], regions), run(large_photo[..., cut:], regions)], dim=-1)
    assert _seam_energy(naive, [cut - 1]) > 1.5 * _seam_energy(whole, [cut - 1])


def test_the_api_tiles_when_memory_is_short(tmp_path, large_photo, style, monkeypatch):
    decoder = brushwork_decoder(tmp_path)
    options = dict(method="adain", model=decoder, size=None, style_size=TILE, precision="float32")
    whole = api.stylize(api.simple_request(large_photo, [style], **options))
    monkeypatch.setattr(tiling, "free_memory", lambda device: 2 * 300 * 300 * tiling.BYTES_PER_PIXEL["adain"])
    assert tiling.plan_tile("adain", tuple(large_photo.shape[-2:]), None, CPU) == 288
    reports = []
    tiled = api.stylize(api.simple_request(large_photo, [style], progress=reports.append, **options))
    assert tiled.shape == whole.shape
    assert (tiled - whole).abs().mean() < 0.02
    assert [(r.step, r.total) for r in reports] == [(step, 3) for step in range(1, 4)]


def test_cancel_stops_between_tiles(tmp_path, large_photo, style):
    asked = []

    def cancel() -> bool:
        asked.append(True)
        return len(asked) > 1

    request = api.simple_request(large_photo, [style], method="adain", model=brushwork_decoder(tmp_path), size=None,
                                 tile=TILE, cancel=cancel)
    with pytest.raises(Cancelled, match="after tile 1 of 6"):
        api.stylize(request)


def test_a_tile_side_is_checked_and_small_images_run_whole():
    with pytest.raises(RequestError, match="tile must be at least"):
        tile_side(100)
    assert tiling.plan_tile("fast", (4000, 4000), tile_side("off"), CPU) is None
    assert tiling.plan_tile("fast", (300, 500), 512, CPU) is None
    assert tiling.plan_tile("fast", (300, 500), 300, CPU) == 288
    assert tiling.plan_tile("fast", (512, 512), None, CPU) is None


def test_gram_optimisation_refines_the_scales_above_a_tile_tile_by_tile(vgg, large_photo, style):
    """The untiled run's pyramid: scales that fit a tile on the whole image, larger ones per tile.
    The result is nearer the untiled result than either is to the photo, its style loss
    (whole image, against the style's Grams) falls well below the photo's, and every tile reports."""
    reports = []
    options = dict(method="gatys", size=None, steps=16, style_size=TILE)
    result = api.stylize(api.simple_request(large_photo, [style], tile=TILE, progress=reports.append, **options))
    whole = api.stylize(api.simple_request(large_photo, [style], tile="off", **options))
    assert result.shape == large_photo.shape and torch.isfinite(result).all()
    assert (result - whole).abs().mean() < 0.75 * (whole - large_photo).abs().mean()
    targets = {layer: gram(value) for layer, value in vgg(style, STYLE_LAYERS).items()}

    def style_loss(image):
        features = vgg(image, STYLE_LAYERS)
        return sum(float((gram(value) - targets[layer]).pow(2).sum()) for layer, value in features.items())

    assert style_loss(result) < 0.5 * style_loss(large_photo)
    assert reports[-1].step == reports[-1].total == len(reports)


def test_style_grams_read_in_tiles_match_the_whole_images(vgg, large_photo):
    whole = {layer: gram(value) for layer, value in vgg(large_photo, STYLE_LAYERS).items()}
    tiled = style_grams(vgg, large_photo, STYLE_LAYERS, tile=128)
    for layer in STYLE_LAYERS:
        assert (tiled[layer] - whole[layer]).norm() < 1e-3 * whole[layer].norm(), layer


def _largest_within_the_cap(method: str) -> int:
    """The side of the largest aligned square tile whose planned memory fits the CPU cap."""
    side = tiling.ALIGN
    while (side + tiling.ALIGN) ** 2 * tiling.BYTES_PER_PIXEL[method] <= tiling.MEMORY_CAP:
        side += tiling.ALIGN
    return min(side, tiling.MAX_TILE)


def test_automatic_tiles_stay_within_the_memory_cap_on_large_machines(monkeypatch):
    monkeypatch.setattr(tiling, "free_memory", lambda device: 1 << 40)
    for method in ("adain", "feedforward"):
        assert tiling.plan_tile(method, (4096, 4096), None, CPU) == _largest_within_the_cap(method)
    assert tiling.plan_tile("adain", (896, 896), None, CPU) is None  # 1.8 GB planned: whole
    assert tiling.plan_tile("adain", (1024, 1024), None, CPU) is not None  # 2.3 GB planned: tiles


def test_a_gpu_is_not_held_to_the_cpu_memory_cap(monkeypatch):
    monkeypatch.setattr(tiling, "free_memory", lambda device: 80 << 30)
    assert tiling.plan_tile("adain", (4096, 4096), None, torch.device("cuda")) is None
    assert tiling.plan_tile("adain", (4096, 4096), None, CPU) == _largest_within_the_cap("adain")
