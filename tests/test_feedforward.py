"""Feed-forward: pytorch/examples' saved models, strength, regions, sizes, batches."""

import pytest
import torch

from plugin_core import api
from plugin_core.color import rgb_to_yiq
from plugin_core.errors import RequestError, WeightsError
from plugin_core.loaders import load_model
from plugin_core.methods import feedforward
from plugin_core.networks.transformer_net import TransformerNet, load_transformer_net
from plugin_core.regions import Region, Style
from plugin_core.tensor_files import write_tensors

from .weights import FAST_NEURAL_STYLE_SHAPES, fast_neural_style_state


@pytest.fixture(scope="module")
def models(tmp_path_factory):
    """Two styles: an old-format ``.pth`` (stale instance-norm buffers) and a brushwork ``.safetensors``."""
    folder = tmp_path_factory.mktemp("models")
    torch.save(fast_neural_style_state(seed=1), folder / "candy.pth")
    write_tensors(folder / "mine.safetensors", fast_neural_style_state(seed=2, stale_buffers=False),
                  {"family": "feedforward"})
    return folder


def test_published_keys_load_and_stale_buffers_are_dropped():
    state = fast_neural_style_state(seed=1)
    assert sum(key.endswith("running_mean") for key in state) == 15
    net = load_transformer_net(state, "candy.pth")
    loaded = net.state_dict()
    assert set(loaded) == {k for k in state if "running" not in k}
    assert all(torch.equal(loaded[key], state[key]) for key in loaded)
    assert len(FAST_NEURAL_STYLE_SHAPES) == 31


def test_the_network_computes_in_pixel_values():
    """pytorch/examples' networks take and give 0..255; ours takes and gives 0..1 around them."""
    net = load_transformer_net(fast_neural_style_state(seed=1), "candy.pth")
    image = torch.rand(1, 3, 32, 32)
    x = image * 255
    for conv, norm in ((net.conv1, net.in1), (net.conv2, net.in2), (net.conv3, net.in3)):
        x = torch.relu(norm(conv(x)))
    for i in range(1, 6):
        x = getattr(net, f"res{i}")(x)
    for conv, norm in ((net.deconv1, net.in4), (net.deconv2, net.in5)):
        x = torch.relu(norm(conv(x)))
    with torch.no_grad():
        assert torch.allclose(net(image) * 255, net.deconv3(x), rtol=1e-4, atol=1e-3)


def test_a_wrong_shape_or_key_is_named():
    state = fast_neural_style_state(seed=1)
    state["in3.weight"] = torch.ones(64)
    with pytest.raises(WeightsError, match=r"in3.weight has shape \(64,\), a feed-forward TransformerNet needs"):
        load_transformer_net(state, "candy.pth")
    del state["res5.conv2.conv2d.weight"]
    with pytest.raises(WeightsError, match="not a feed-forward TransformerNet: missing res5.conv2.conv2d.weight"):
        load_transformer_net(state, "candy.pth")


def test_loaded_models_are_cached_unless_the_caller_keeps_its_own(models):
    cached = load_model(models / "candy.pth", "feedforward")
    assert load_model(models / "candy.pth", "feedforward") is cached
    own = load_model(models / "candy.pth", "feedforward", cache=False)
    assert own.network is not cached.network
    assert load_model(models / "candy.pth", "feedforward", cache=False).network is not own.network
    assert torch.equal(own.network.conv1.conv2d.weight, cached.network.conv1.conv2d.weight)


def test_odd_sizes_come_back_at_their_size():
    net = TransformerNet().eval()
    image = torch.rand(1, 3, 37, 50)
    assert feedforward.stylize(image, [Region([Style(model=net)])]).shape == image.shape


def test_strength_blends_with_the_content(models, photo):
    net = load_model(models / "candy.pth", "feedforward").network
    full = feedforward.stylize(photo, [Region([Style(model=net)])], strength=1)
    none = feedforward.stylize(photo, [Region([Style(model=net)])], strength=0)
    half = feedforward.stylize(photo, [Region([Style(model=net)])], strength=0.5)
    assert torch.equal(none, photo)
    assert torch.allclose(half, (full + photo) / 2, atol=1e-6)
    assert (full - photo).abs().mean() > 0.05


def test_a_model_per_region(models, photo):
    candy = load_model(models / "candy.pth", "feedforward").network
    mine = load_model(models / "mine.safetensors", "feedforward").network
    top = torch.zeros(1, 1, *photo.shape[-2:])
    top[..., :32, :] = 1
    out = feedforward.stylize(photo, [Region([Style(model=candy)], top), Region([Style(model=mine)], 1 - top)])
    assert torch.allclose(out[..., :32, :], feedforward.stylize(photo, [Region([Style(model=candy)])])[..., :32, :])
    assert torch.allclose(out[..., 32:, :], feedforward.stylize(photo, [Region([Style(model=mine)])])[..., 32:, :])


def test_api_by_name_with_a_mask_and_a_batch(models, photo, monkeypatch):
    monkeypatch.setenv("BRUSHWORK_MODELS", str(models))
    mask = torch.zeros(1, 1, *photo.shape[-2:])
    mask[..., :, :40] = 1
    frames = torch.cat([photo, photo.flip(-1)])
    reports = []
    request = api.StyleRequest(frames, [Region([Style(model="candy")], mask)], method="feedforward", size=None,
                               device="cpu", progress=reports.append, watermark=False)
    out = api.stylize(request)
    assert out.shape == frames.shape and torch.equal(out[..., 40:], frames[..., 40:])
    assert (out[..., :40] - frames[..., :40]).abs().mean() > 0.05
    assert [(r.step, r.total) for r in reports] == [(1, 2), (2, 2)]


def test_colour_before_transfer_is_refused_for_baked_styles(models, photo):
    request = api.StyleRequest(photo, [Region([Style(model=models / "candy.pth")])], method="feedforward",
                               color="histogram", color_when="before", device="cpu")
    with pytest.raises(RequestError, match="baked into their models"):
        api.stylize(request)


def test_luminance_after_keeps_the_photo_colours(models, photo):
    request = api.StyleRequest(photo, [Region([Style(model=models / "candy.pth")])], method="feedforward",
                               color="luminance", size=None, device="cpu")
    out = api.stylize(request)
    unclamped = ((out > 0.01) & (out < 0.99)).all(1, keepdim=True).expand(-1, 2, -1, -1)
    chroma_error = (rgb_to_yiq(out)[:, 1:] - rgb_to_yiq(photo)[:, 1:]).abs()[unclamped]
    assert unclamped.float().mean() > 0.3 and chroma_error.mean() < 1e-3


def test_a_style_without_a_model_is_refused(photo, painting):
    with pytest.raises(RequestError, match="names no model"):
        api.stylize(api.simple_request(photo, [painting], method="feedforward", device="cpu"))


def test_bfloat16_matches_float32(models, photo):
    outputs = [
        feedforward.stylize(photo, [Region([Style(model=load_model(models / "candy.pth", "feedforward", "cpu",
                                                                  dtype).network)])])
        for dtype in (torch.float32, torch.bfloat16)
    ]
    assert (outputs[0] - outputs[1]).abs().mean() < 2 / 255  # about one level of 255 with these weights
