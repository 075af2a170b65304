"""AdaIN: pytorch-AdaIN's published formats, the AdaIN property, alpha, interpolation, regions."""

import pytest
import torch
from torch import nn

from plugin_core import api
from plugin_core.color import rgb_to_yiq
from plugin_core.errors import WeightsError
from plugin_core.loaders import load_model
from plugin_core.methods import adain
from plugin_core.networks.decoder import Decoder, load_decoder
from plugin_core.networks.vgg import load_vgg19
from plugin_core.regions import Region, Style

from .weights import (
    ADAIN_DECODER_MODULES,
    ADAIN_DECODER_SHAPES,
    ADAIN_VGG_MODULES,
    ADAIN_VGG_SHAPES,
    adain_pair,
    brushwork_decoder,
    published_state,
)


def _reference(modules, shapes, state):
    """The published ``nn.Sequential``, built module by module and loaded with ``state``."""
    layers = {"pad": lambda: nn.ReflectionPad2d(1), "relu": nn.ReLU, "up": lambda: nn.Upsample(scale_factor=2),
              "pool": lambda: nn.MaxPool2d(2, 2, 0, ceil_mode=True)}
    network = nn.Sequential(*(
        nn.Conv2d(shapes[i][1], shapes[i][0], shapes[i][2]) if kind == "conv" else layers[kind]()
        for i, kind in enumerate(modules)
    ))
    network.load_state_dict(state)
    return network


def test_published_vgg_normalised_keys_load_and_match_the_reference_network(tmp_path):
    state = published_state(ADAIN_VGG_SHAPES, seed=1)
    torch.save(state, tmp_path / "vgg_normalised.pth")
    ours = load_vgg19(tmp_path / "vgg_normalised.pth")
    reference = _reference(ADAIN_VGG_MODULES, ADAIN_VGG_SHAPES, state)
    image = torch.rand(1, 3, 45, 37)  # odd sizes exercise ceil-mode pooling
    with torch.no_grad():
        expected = reference[:31](image)  # up to relu4_1, as pytorch-AdaIN slices it
        got = ours(image, ["relu4_1"])["relu4_1"]
    assert got.shape == expected.shape == (1, 512, 6, 5)
    assert torch.allclose(got, expected, rtol=1e-4, atol=1e-5)


def test_published_decoder_keys_load_and_match_the_reference_network():
    state = published_state(ADAIN_DECODER_SHAPES, seed=2)
    reference = _reference(ADAIN_DECODER_MODULES, ADAIN_DECODER_SHAPES, state)
    features = torch.rand(1, 512, 5, 7)
    with torch.no_grad():
        assert torch.allclose(load_decoder(state, "decoder.pth")(features), reference(features), atol=1e-5)


def test_wrong_shapes_name_the_layer():
    state = published_state(ADAIN_DECODER_SHAPES, seed=2)
    state["5.weight"] = torch.zeros(128, 256, 3, 3)
    with pytest.raises(WeightsError, match=r"decoder layer conv3_4 \(key 5\) has weight \(128, 256, 3, 3\)"):
        load_decoder(state, "decoder.pth")


def test_adain_gives_the_style_statistics():
    content, style = torch.randn(2, 512, 8, 8) * 3 + 1, torch.randn(2, 512, 6, 6) * 0.5 - 2
    target = adain.channel_statistics(style)
    moved = adain.adain(content, adain.channel_statistics(content), target)
    mean, std = adain.channel_statistics(moved)
    assert torch.allclose(mean, target[0], atol=1e-4) and torch.allclose(std, target[1], atol=1e-4)


def test_statistics_without_a_mask_are_torch_var():
    features = torch.randn(1, 4, 5, 6)
    mean, std = adain.channel_statistics(features)
    flat = features.flatten(2)
    assert torch.allclose(mean.flatten(), flat.mean(2).flatten())
    assert torch.allclose(std.flatten(), (flat.var(2) + adain.EPS).sqrt().flatten())


@pytest.fixture(scope="module", params=["classic", "skips"])
def net(tmp_path_factory, request):
    path = brushwork_decoder(tmp_path_factory.mktemp("models"), skips=request.param == "skips")
    return load_model(path, "adain").network


def test_alpha_zero_decodes_the_content_features(net, photo, painting):
    out = adain.stylize(net, photo, [Region([Style(painting)])], adain.AdaINSettings(alpha=0))
    margin = adain.MARGIN  # the photo's sides are multiples of 8: only the reflected margin is added
    with torch.no_grad():
        framed = torch.nn.functional.pad(photo, (margin,) * 4, mode="reflect")
        expected = net.decode(net.encode(framed))[..., margin:-margin, margin:-margin].clamp(0, 1)
    assert out.shape == photo.shape and torch.allclose(out, expected, atol=1e-6)


def test_odd_sizes_come_back_at_their_size(net, photo, painting):
    odd = photo[..., :61, :101]
    assert adain.stylize(net, odd, [Region([Style(painting)])]).shape == odd.shape


def test_interpolation_weights_are_normalised(net, photo, painting, painting2):
    halves = adain.stylize(net, photo, [Region([Style(painting, 2), Style(painting2, 2)])])
    ones = adain.stylize(net, photo, [Region([Style(painting, 1), Style(painting2, 1)])])
    only = adain.stylize(net, photo, [Region([Style(painting, 1), Style(painting2, 0)])])
    assert torch.allclose(halves, ones)
    assert torch.allclose(only, adain.stylize(net, photo, [Region([Style(painting)])]))
    assert (halves - only).abs().mean() > 1e-3


def test_regions_take_their_own_statistics():
    features = torch.randn(1, 8, 16, 16)
    left = torch.zeros(1, 1, 16, 16)
    left[..., :8] = 1
    styles = [(torch.full((1, 8, 1, 1), 5.0), torch.full((1, 8, 1, 1), 0.5)),
              (torch.full((1, 8, 1, 1), -3.0), torch.full((1, 8, 1, 1), 2.0))]
    target = adain.target_features(features, styles, [left, 1 - left], alpha=1)
    for (mean, std), half in zip(styles, (target[..., :8], target[..., 8:]), strict=True):
        got_mean, got_std = adain.channel_statistics(half)
        assert torch.allclose(got_mean, mean, atol=1e-4) and torch.allclose(got_std, std, atol=1e-3)


def test_uncovered_features_stay_the_content():
    features = torch.randn(1, 8, 16, 16)
    mask = torch.zeros(1, 1, 16, 16)
    mask[..., :4, :] = 1
    style = (torch.zeros(1, 8, 1, 1), torch.ones(1, 8, 1, 1))
    target = adain.target_features(features, [style], [mask], alpha=1)
    assert torch.equal(target[..., 4:, :], features[..., 4:, :])


def test_a_style_is_encoded_once_for_a_batch_of_frames(tmp_path, photo, painting):
    path = brushwork_decoder(tmp_path)
    net = load_model(path, "adain").network
    calls = []
    hook = net.encoder.register_forward_hook(lambda _m, args, _out: calls.append(tuple(args[0].shape)))
    try:
        frames = torch.cat([photo, photo.flip(-1), photo.flip(-2)])
        api.stylize(api.simple_request(frames, [painting.flip(-1)], method="adain", model=path, precision="float32",
                                       size=None, device="cpu"))
    finally:
        hook.remove()
    assert len(calls) == 4  # three frames, one style


def test_api_adain_with_the_published_pair(tmp_path, photo, painting):
    adain_pair(tmp_path)
    out = api.stylize(api.simple_request(photo, [painting], method="adain", model=tmp_path / "decoder.pth",
                                         size=None, device="cpu"))
    assert out.shape == photo.shape and torch.isfinite(out).all()


def test_the_published_decoder_needs_its_encoder(tmp_path):
    torch.save(published_state(ADAIN_DECODER_SHAPES, seed=2), tmp_path / "decoder.pth")
    with pytest.raises(WeightsError, match="needs vgg_normalised.pth"):
        load_model(tmp_path / "decoder.pth", "adain")


def test_masked_region_keeps_the_photo_outside(net, tmp_path, photo, painting):
    mask = torch.zeros(1, 1, *photo.shape[-2:])
    mask[..., : photo.shape[-2] // 2, :] = 1
    request = api.StyleRequest(photo, [Region([Style(painting)], mask)], method="adain",
                               model=brushwork_decoder(tmp_path), size=None, device="cpu", watermark=False)
    out = api.stylize(request)
    half = photo.shape[-2] // 2
    assert torch.equal(out[..., half:, :], photo[..., half:, :])
    assert (out[..., :half, :] - photo[..., :half, :]).abs().mean() > 0.02


def test_decoder_round_trip_shapes():
    assert Decoder()(torch.rand(2, 512, 3, 4)).shape == (2, 3, 24, 32)


def test_bfloat16_matches_float32(tmp_path, photo, painting):
    path = brushwork_decoder(tmp_path)
    outputs = [
        adain.stylize(load_model(path, "adain", "cpu", dtype).network, photo, [Region([Style(painting)])])
        for dtype in (torch.float32, torch.bfloat16)
    ]
    assert (outputs[0] - outputs[1]).abs().mean() < 1 / 255


@pytest.mark.parametrize(("color", "when"), [("histogram", "after"), ("luminance", "after"), ("reinhard", "before"),
                                             ("luminance", "before")])
def test_colour_preservation(tmp_path, photo, painting, color, when, monkeypatch):
    request = api.simple_request(photo, [painting], method="adain", model=brushwork_decoder(tmp_path), size=None,
                                 device="cpu", color=color, color_when=when)
    painted_with = []
    paint = adain.stylize
    monkeypatch.setattr(adain, "stylize", lambda net, content, regions, *rest: painted_with.extend(
        style.image for region in regions for style in region.styles) or paint(net, content, regions, *rest))
    out = api.stylize(request)
    assert out.shape == photo.shape and torch.isfinite(out).all()
    if color == "histogram":  # bfloat16 random weights give tied pixels: compare the moments
        assert torch.allclose(out.mean((2, 3)), photo.mean((2, 3)), atol=0.01)
        assert torch.allclose(out.std((2, 3)), photo.std((2, 3)), atol=0.01)
    if (color, when) == ("reinhard", "before"):  # the style reaches the method in the photo's colours
        (style,) = painted_with
        before, after = (float((image.mean((2, 3)) - photo.mean((2, 3))).abs().max()) for image in (painting, style))
        assert after < 0.4 * before and style.shape == painting.shape
    if color == "luminance":
        unclamped = ((out > 0.01) & (out < 0.99)).all(1, keepdim=True).expand(-1, 2, -1, -1)
        chroma_error = (rgb_to_yiq(out)[:, 1:] - rgb_to_yiq(photo)[:, 1:]).abs()[unclamped]
        assert unclamped.float().mean() > 0.3 and chroma_error.mean() < 1e-3
