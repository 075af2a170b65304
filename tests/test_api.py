"""plugin_core.api: requests in, images out, bad requests named."""

import pytest
import torch

from plugin_core import api
from plugin_core.color import rgb_to_yiq
from plugin_core.controls import PAINTED_INITS
from plugin_core.errors import ImageError, MaskError, RequestError, ResultError
from plugin_core.image import resize
from plugin_core.methods import gatys
from plugin_core.networks.vgg import load_vgg19, shared_vgg19
from plugin_core.regions import Region, Style

FAST = {"method": "gatys", "size": 96, "steps": 6, "device": "cpu"}


def test_strength_mapping_brackets_the_classic_ratio():
    assert api.strength_to_style_weight(0.25) == pytest.approx(1e3)  # Gatys et al.'s alpha/beta = 1e-3
    weights = [api.strength_to_style_weight(s / 10) for s in range(11)]
    assert weights == sorted(weights) and weights[0] == pytest.approx(100) and weights[-1] == pytest.approx(1e6)


def test_output_is_at_the_working_size_and_styled(photo, painting):
    out = api.stylize(api.simple_request(photo, [painting], **FAST))
    assert out.shape == (1, 3, 48, 96)
    assert (out - resize(photo, (48, 96))).abs().mean() > 0.02


def test_gram_runs_under_inference_mode_as_hosts_call_it(photo, painting, monkeypatch):
    """ComfyUI runs nodes under torch.inference_mode: the inputs and even a VGG19 first loaded there
    are inference tensors, which the Gram method's backward pass must not meet."""
    monkeypatch.setattr(api, "shared_vgg19", lambda device, pooling: shared_vgg19.__wrapped__(device, pooling))
    with torch.inference_mode():
        mask = torch.ones(1, 1, *photo.shape[-2:])
        out = api.stylize(api.StyleRequest(photo.clone(), [Region([Style(painting.clone())], mask)], **FAST))
    assert (out - resize(photo, (48, 96))).abs().mean() > 0.02


def test_gram_runs_through_a_loss_network_a_host_moved_under_inference_mode(photo, painting):
    """ComfyUI makes and moves models under torch.inference_mode: the VGG19 it hands over paints like
    brushwork's own."""
    with torch.inference_mode():
        vgg = load_vgg19().to(torch.float64).to(torch.float32)
    ours = api.stylize(api.simple_request(photo, [painting], **FAST))
    theirs = api.stylize(api.simple_request(photo, [painting], loss_network=vgg, **FAST))
    assert not any(tensor.is_inference() for tensor in [*vgg.parameters(), *vgg.buffers()])
    assert torch.allclose(theirs, ours, atol=1e-4)


def test_masked_region_changes_and_the_rest_stays_the_photo(photo, painting):
    mask = torch.zeros(1, 1, *photo.shape[-2:])
    mask[..., :, : photo.shape[-1] // 2] = 1
    request = api.StyleRequest(photo, [Region([Style(painting)], mask)], size=None, steps=6, device="cpu",
                               watermark=False)
    out = api.stylize(request)
    half = photo.shape[-1] // 2
    assert torch.equal(out[..., half:], photo[..., half:])
    assert (out[..., :half] - photo[..., :half]).abs().mean() > 0.02


def test_colour_preservation_after(photo, painting):
    unmarked = FAST | {"size": None, "watermark": False}
    out = api.stylize(api.simple_request(photo, [painting], color="luminance", **unmarked))
    chroma_error = (rgb_to_yiq(out)[:, 1:] - rgb_to_yiq(photo)[:, 1:]).abs()
    assert chroma_error.mean() < 0.005  # exact but for pixels clamped back into 0..1
    out = api.stylize(api.simple_request(photo, [painting], color="histogram", **unmarked))
    for c in range(3):
        assert torch.allclose(out[0, c].flatten().sort().values, photo[0, c].flatten().sort().values, atol=0.01)


@pytest.mark.parametrize("color", ["luminance", "reinhard", "linear", "histogram"])
def test_colour_preservation_before_recolours_the_styles(photo, painting, color, monkeypatch):
    seen = []
    real = gatys.stylize

    def spy(vgg, content, regions, *args, **kwargs):
        seen.append((content, regions[0].styles[0].image))
        return real(vgg, content, regions, *args, **kwargs)

    monkeypatch.setattr(gatys, "stylize", spy)
    api.stylize(api.simple_request(photo, [painting], color=color, color_when="before",
                                   **(FAST | {"size": None, "steps": 2})))
    content, style = seen[0]
    assert not torch.allclose(style, painting)
    if color == "luminance":  # the transfer itself runs on grey images
        assert torch.allclose(content[:, 0], content[:, 1]) and torch.allclose(style[:, 0], style[:, 2])
    else:  # the style's mean colour moved most of the way to the photo's
        def gap(image):
            return float((image.mean((2, 3)) - photo.mean((2, 3))).norm())

        assert gap(style) < 0.4 * gap(painting)


@pytest.mark.parametrize("precision, dtype", [("float32", torch.float32), ("bfloat16", torch.bfloat16)])
def test_precision_reaches_the_gram_method(photo, painting, precision, dtype, monkeypatch):
    seen = []
    real = gatys.stylize

    def spy(vgg, content, regions, settings, *args, **kwargs):
        seen.append(settings.dtype)
        return real(vgg, content, regions, settings, *args, **kwargs)

    monkeypatch.setattr(gatys, "stylize", spy)
    api.stylize(api.simple_request(photo, [painting], precision=precision, **(FAST | {"steps": 2})))
    assert seen == [dtype]


def test_float16_gram_is_refused(photo, painting):
    with pytest.raises(RequestError, match="Gram optimisation cannot run in float16"):
        api.stylize(api.simple_request(photo, [painting], precision="float16", **FAST))


@pytest.mark.parametrize("color", ["luminance", "histogram"])
def test_faint_soft_mask_works_with_colour_before(photo, painting, color):
    """A feathered selection that never reaches 0.5 still measures colours in its own region."""
    mask = torch.zeros(1, 1, *photo.shape[-2:])
    mask[..., 8:40, 16:80] = 0.4
    request = api.StyleRequest(photo, [Region([Style(painting)], mask)], color=color, color_when="before",
                               size=None, steps=3, device="cpu", feather=4, watermark=False)
    out = api.stylize(request)
    assert torch.isfinite(out).all()
    assert torch.equal(out[..., :, 100:], photo[..., :, 100:])


def test_batches_report_progress_across_frames(photo, painting):
    reports = []
    frames = torch.cat([photo, photo.flip(-1)])
    out = api.stylize(api.simple_request(frames, [painting], progress=reports.append, **FAST))
    assert out.shape == (2, 3, 48, 96)
    assert [r.step for r in reports] == list(range(1, 13)) and reports[-1].total == 12


def test_unknown_method_and_bad_controls(photo, painting):
    with pytest.raises(RequestError, match="unknown method 'cubism': use one of gatys"):
        api.stylize(api.simple_request(photo, [painting], method="cubism"))
    with pytest.raises(RequestError, match="strength must be between 0 and 1, got 1.5"):
        api.stylize(api.simple_request(photo, [painting], strength=1.5))
    with pytest.raises(RequestError, match="unknown colour mode 'sepia'"):
        api.stylize(api.simple_request(photo, [painting], color="sepia"))
    with pytest.raises(RequestError, match="no style given"):
        api.stylize(api.StyleRequest(photo, []))
    with pytest.raises(RequestError, match="style weights must be >= 0"):
        api.stylize(api.StyleRequest(photo, [Region([Style(painting, -1)])]))


@pytest.mark.skipif(torch.cuda.is_available(), reason="checks the message when CUDA is absent")
def test_cuda_asked_for_but_absent(photo, painting):
    with pytest.raises(RequestError, match="device 'cuda' asked for, but CUDA is not available"):
        api.stylize(api.simple_request(photo, [painting], device="cuda"))


def test_bad_images_and_masks(photo, painting):
    nan = photo.clone()
    nan[0, 0, 0, 0] = float("nan")
    with pytest.raises(ImageError, match="content contains NaN"):
        api.stylize(api.simple_request(nan, [painting]))
    with pytest.raises(ImageError, match=r"style 1 of region 1 must be a \[B,3,H,W\] RGB tensor, got \(1, 4, 8, 8\)"):
        api.stylize(api.simple_request(photo, [torch.rand(1, 4, 8, 8)]))
    with pytest.raises(ImageError, match="smaller side must be at least 32"):
        api.stylize(api.simple_request(photo[..., :20, :], [painting]))
    empty = torch.zeros(1, 1, *photo.shape[-2:])
    with pytest.raises(MaskError, match="mask of region 1 is empty"):
        api.stylize(api.StyleRequest(photo, [Region([Style(painting)], empty)], **FAST))


def test_mask_of_another_shape_is_stretched_with_a_warning(photo, painting):
    square = torch.ones(1, 1, 50, 50)
    with pytest.warns(UserWarning, match="mask of region 1 is 50x50, the content 128x64: stretched"):
        out = api.stylize(api.StyleRequest(photo, [Region([Style(painting)], square)], **FAST))
    assert out.shape == (1, 3, 48, 96)


def test_nan_result_is_an_error_not_an_image(photo, painting, monkeypatch):
    monkeypatch.setattr(gatys, "stylize", lambda vgg, content, *rest, **kw: torch.full_like(content, float("nan")))
    with pytest.raises(ResultError, match="NaN"):
        api.stylize(api.simple_request(photo, [painting], **FAST))


@pytest.mark.parametrize("init", PAINTED_INITS)
def test_a_one_pass_start_begins_lower_and_stays_lower_than_the_photo(photo, painting, init):
    """``init`` adain or fast starts Gram optimisation from that method's painting (the real shipped
    models): the first step's loss and the loss after equal steps are both below the photo start's."""
    losses = {}
    for start in ("content", init):
        reports = []
        api.stylize(api.simple_request(photo, [painting], method="gatys", size=128, steps=10, device="cpu",
                                       precision="float32", watermark=False, progress=reports.append,
                                       gatys=gatys.GatysSettings(init=start, scales=1)))
        losses[start] = (reports[0].losses["total"], reports[-1].losses["total"])
    (photo_first, photo_last), (painted_first, painted_last) = losses["content"], losses[init]
    assert painted_first < 0.5 * photo_first
    assert painted_last < photo_last


def test_a_one_pass_start_is_painted_by_the_api_not_the_gram_method(photo, painting):
    with pytest.raises(RequestError, match="one-pass painting"):
        gatys.stylize(shared_vgg19(), photo, [Region([Style(painting)])], gatys.GatysSettings(init="fast", steps=1))
