"""The fast arbitrary-style method: shapes, regions, strength, interpolation, loading (random weights)."""

import pytest
import torch

from plugin_core import api
from plugin_core.errors import WeightsError
from plugin_core.image import style_working_size
from plugin_core.methods import fast
from plugin_core.networks.fast_arbitrary import CHANNELS, FastArbitraryNet, load_fast_arbitrary, widen
from plugin_core.regions import Region, Style
from plugin_core.tensor_files import write_tensors

MAX_PARAMETERS = 1_000_000


@pytest.fixture(scope="module")
def net() -> FastArbitraryNet:
    torch.manual_seed(0)
    return FastArbitraryNet().eval().requires_grad_(False)


def test_small_and_shaped_like_its_input(net, photo, painting):
    assert sum(p.numel() for p in net.parameters()) < MAX_PARAMETERS
    code = net.style_code(painting[..., :64, :64])
    assert code.shape == (1, 2 * CHANNELS[-1])
    odd = photo[..., :61, :99]
    assert fast.stylize(net, odd, [Region([Style(painting)])]).shape == odd.shape


def test_the_style_changes_the_result(net, photo, painting, painting2):
    first = fast.stylize(net, photo, [Region([Style(painting)])])
    second = fast.stylize(net, photo, [Region([Style(painting2)])])
    assert (first - second).abs().mean() > 1e-3


def test_strength_blends_with_the_photo(net, photo, painting):
    regions = [Region([Style(painting)])]
    assert torch.equal(fast.stylize(net, photo, regions, strength=0.0), photo)
    full = fast.stylize(net, photo, regions)
    half = fast.stylize(net, photo, regions, strength=0.5)
    assert torch.allclose(half, (full + photo) / 2, atol=1e-6)


def test_interpolation_mixes_the_style_codes(net, photo, painting, painting2):
    codes = [
        fast.style_code(net, image, style_working_size(image.shape[-2:], photo.shape[-2:], None, fast.MIN_STYLE_SIDE))
        for image in (painting, painting2)
    ]
    mixed = fast.stylize(net, photo, [Region([Style(painting, 3), Style(painting2, 1)])])
    margin = fast.MARGIN
    with torch.inference_mode():
        padded = torch.nn.functional.pad(photo, (margin,) * 4, mode="reflect")
        expected = net(padded, 0.75 * codes[0] + 0.25 * codes[1])[..., margin:-margin, margin:-margin].clamp(0, 1)
    assert torch.allclose(mixed, expected, atol=1e-4)


def test_outside_the_mask_is_the_photo(net, photo, painting):
    mask = torch.zeros(1, 1, *photo.shape[-2:])
    mask[..., :, : photo.shape[-1] // 2] = 1
    out = fast.stylize(net, photo, [Region([Style(painting)], mask)])
    right = photo.shape[-1] // 2
    assert torch.equal(out[..., right:], photo[..., right:])
    assert (out[..., :right] - photo[..., :right]).abs().mean() > 1e-3


def test_loading_checks_keys_and_shapes(net, tmp_path, photo, painting):
    path = write_tensors(tmp_path / "mine.safetensors", net.state_dict(), {"family": "fast"})
    request = api.simple_request(photo, [painting], method="fast", model=path, size=None, precision="float32",
                                 watermark=False)
    result = api.stylize(request)
    assert torch.allclose(result, fast.stylize(net, photo, [Region([Style(painting)])]), atol=1e-5)
    state = dict(net.state_dict())
    state["modulation.weight"] = torch.zeros(3, 3)
    with pytest.raises(WeightsError, match=r"modulation.weight has shape \(3, 3\), a brushwork fast"):
        load_fast_arbitrary(state, "mine.safetensors")
    del state["up1.weight"]
    with pytest.raises(WeightsError, match="not a brushwork fast arbitrary-style model: missing up1.weight"):
        load_fast_arbitrary(state, "mine.safetensors")
    with pytest.raises(WeightsError, match="an AdaIN decoder was asked for, but .*mine.safetensors is a fast"):
        api.stylize(api.simple_request(photo, [painting], method="adain", model=path, size=None))


def test_two_regions_each_paint_their_half(net, photo, painting, painting2):
    half = photo.shape[-1] // 2
    left = torch.zeros(1, 1, *photo.shape[-2:])
    left[..., :half] = 1
    both = fast.stylize(net, photo, [Region([Style(painting)], left), Region([Style(painting2)], 1 - left)])
    first = fast.stylize(net, photo, [Region([Style(painting)])])
    second = fast.stylize(net, photo, [Region([Style(painting2)])])
    assert torch.allclose(both[..., :half], first[..., :half], atol=1e-5)
    assert torch.allclose(both[..., half:], second[..., half:], atol=1e-5)


def test_a_model_of_another_width_loads_at_its_own_width(tmp_path):
    torch.manual_seed(0)
    wide = FastArbitraryNet((24, 48, 96))
    state = {name: value.clone() for name, value in wide.state_dict().items()}
    loaded = load_fast_arbitrary(state, "wide.safetensors")
    assert loaded.channels == (24, 48, 96)
    content, style = torch.rand(1, 3, 32, 48), torch.rand(1, 3, 32, 32)
    with torch.no_grad():
        assert torch.equal(loaded(content, loaded.style_code(style)), wide(content, wide.style_code(style)))


def test_a_widened_model_paints_as_the_narrow_one_and_can_learn_with_its_new_channels(net):
    wider = (16, 48, 96)
    wide = FastArbitraryNet(wider)
    wide.load_state_dict(widen(net.state_dict(), wider))
    torch.manual_seed(1)
    content, style = torch.rand(1, 3, 32, 48), torch.rand(1, 3, 32, 32)
    with torch.no_grad():
        expected = net(content, net.style_code(style))
        assert torch.allclose(wide(content, wide.style_code(style)), expected, atol=1e-5)
        assert wide.content_encoder(content)[:, CHANNELS[2]:].abs().mean() > 0.01
    wide(content, wide.style_code(style)).square().mean().backward()
    from_new_channels = wide.up1.weight.grad[:, CHANNELS[2]:]
    assert from_new_channels.abs().max() > 0, "nothing would grow the new channels' outgoing weights"
    with pytest.raises(WeightsError, match=r"channels \(16, 32, 64\) cannot be narrowed to \(16, 24, 64\)"):
        widen(net.state_dict(), (16, 24, 64))
