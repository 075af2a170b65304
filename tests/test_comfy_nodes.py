"""What the ComfyUI nodes do, called with ComfyUI's values but without ComfyUI: layouts, batches,
masks, errors. Their declarations (``comfy_nodes.schema``) are tested in a real ComfyUI
(``tests/host/test_comfyui.py``)."""

import json
import logging

import pytest
import torch

from comfy_nodes import host
from comfy_nodes.nodes import (
    color_match,
    feedforward,
    load_style_model,
    neural_style,
    style_regions,
    style_transfer,
    verify_watermark,
)
from plugin_core import __version__, api, registry
from plugin_core.color import rgb_to_yiq
from plugin_core.errors import Cancelled, RequestError
from plugin_core.image import resize
from plugin_core.networks.fast_arbitrary import FastArbitraryNet
from plugin_core.tensor_files import write_tensors

from .conftest import ROOT, example
from .weights import brushwork_decoder, fast_neural_style_state


def comfy(image: torch.Tensor) -> torch.Tensor:
    """brushwork ``[B,3,H,W]`` -> ComfyUI IMAGE ``[B,H,W,3]``."""
    return image.movedim(1, -1).contiguous()


@pytest.fixture
def models(tmp_path, monkeypatch):
    torch.save(fast_neural_style_state(1), tmp_path / "candy.pth")
    brushwork_decoder(tmp_path)
    monkeypatch.setenv(registry.ENVIRONMENT_VARIABLE, str(tmp_path))
    return tmp_path


@pytest.fixture
def frames(photo):
    """Two frames of the example photo, ComfyUI layout ``[2,64,128,3]``."""
    return comfy(torch.cat([photo, photo.flip(-1)]))


def test_the_loader_lists_the_search_folders_and_tells_the_family(models):
    choices = host.model_choices()
    assert {"candy", "decoder"} <= set(choices)
    candy = load_style_model("candy")
    decoder = load_style_model("decoder")
    assert candy.loaded.family == "feedforward" and decoder.loaded.family == "adain"
    assert host.ready(candy) is candy.loaded


def test_feedforward_frames_strength_and_a_mask_of_another_size(models, frames):
    model = load_style_model("candy")
    out = feedforward(frames, model, 1.0, 0, "none")
    assert out.shape == frames.shape and out.dtype == torch.float32
    assert (out - frames).abs().mean() > 0.05
    same = feedforward(frames, model, 0.0, 0, "none", watermark=False)
    assert torch.allclose(same, frames, atol=1e-6)
    mask = torch.zeros(1, 32, 32)
    mask[:, :, :16] = 1  # the left half, at another size
    half = feedforward(frames, model, 1.0, 0, "none", mask=mask, watermark=False)
    assert torch.allclose(half[:, :, 70:], frames[:, :, 70:], atol=1e-6)
    assert (half[:, :, :50] - frames[:, :, :50]).abs().mean() > 0.05


def test_an_all_zero_mask_means_no_mask(models, frames, caplog):
    model = load_style_model("candy")
    with caplog.at_level(logging.WARNING, logger="brushwork"):
        out = feedforward(frames, model, 1.0, 0, "none", mask=torch.zeros(1, 64, 64))
    assert "all zero" in caplog.text
    assert torch.allclose(out, feedforward(frames, model, 1.0, 0, "none"))


def test_adain_mixes_a_batch_of_styles_and_frames(models, frames, painting, painting2):
    model = load_style_model("decoder")
    styles = comfy(torch.cat([painting, resize(painting2, tuple(painting.shape[-2:]))]))
    mixed = style_transfer(frames, model, 1.0, 64, "none", "3, 1", style=styles)
    assert mixed.shape == (2, 32, 64, 3)
    first = style_transfer(frames, model, 1.0, 64, "none", "1, 0", style=styles)
    assert (mixed - first).abs().mean() > 1e-4
    with pytest.raises(RequestError, match="1 style weights for 2 style images"):
        style_transfer(frames, model, 1.0, 64, "none", "1", style=styles)
    candy = load_style_model("candy")
    with pytest.raises(RequestError, match="candy is a feedforward model: use it with Style Transfer .Feed-forward."):
        style_transfer(frames, candy, 1.0, 64, "none", "", style=styles)


def test_a_fast_model_runs_in_the_arbitrary_node(models, frames, painting):
    torch.manual_seed(0)
    write_tensors(models / "quick.safetensors", FastArbitraryNet().state_dict(), {"family": "fast"})
    model = load_style_model("quick")
    assert model.loaded.family == "fast"
    out = style_transfer(frames, model, 1.0, 0, "none", "", style=comfy(painting))
    assert out.shape == frames.shape and (out - frames).abs().mean() > 0.01


def test_regions_paint_their_own_masks(models, frames, painting, painting2):
    model = load_style_model("decoder")
    top, bottom = torch.zeros(1, 64, 128), torch.zeros(1, 64, 128)
    top[:, :32], bottom[:, 32:] = 1, 1
    regions = style_regions(comfy(painting), top, 1.0)
    regions = style_regions(comfy(painting2), bottom, 1.0, regions)
    assert len(regions) == 2
    out = style_transfer(frames, model, 1.0, 0, "none", "", regions=regions)
    first = style_transfer(frames, model, 1.0, 0, "none", "", style=comfy(painting))
    second = style_transfer(frames, model, 1.0, 0, "none", "", style=comfy(painting2))
    assert out.shape == frames.shape
    inside = {"top": slice(0, 24), "bottom": slice(40, 64)}  # away from the border the decoder blurs across
    for region, own, other in (("top", first, second), ("bottom", second, first)):
        rows = inside[region]
        assert (out[:, rows] - own[:, rows]).abs().mean() < 0.5 * (out[:, rows] - other[:, rows]).abs().mean(), region
    with pytest.raises(RequestError, match="no style: connect a style image or Style Regions"):
        style_transfer(frames, model, 1.0, 0, "none", "")


def test_gram_optimisation_with_colour_preservation(frames, painting):
    out = neural_style(frames[:1], 4, 64, 0.5, 0.0, "lbfgs", "content", 0, "luminance", "",
                                            style=comfy(painting))
    assert out.shape == (1, 32, 64, 3) and torch.isfinite(out).all()
    photo = resize(frames[:1].movedim(-1, 1), (32, 64))
    painted = out.movedim(-1, 1)
    unclamped = ((painted > 0.01) & (painted < 0.99)).all(1, keepdim=True).expand(-1, 2, -1, -1)
    chroma = (rgb_to_yiq(painted)[:, 1:] - rgb_to_yiq(photo)[:, 1:]).abs()[unclamped]
    assert unclamped.float().mean() > 0.3 and chroma.mean() < 0.01  # the photo's colours kept
    assert (rgb_to_yiq(painted)[:, :1] - rgb_to_yiq(photo)[:, :1]).abs().mean() > 0.01  # its light painted


def test_cancel_stops_between_frames(models, frames, monkeypatch):
    model = load_style_model("candy")
    calls = []
    monkeypatch.setattr(host, "interrupted", lambda: calls.append(1) or len(calls) > 1)
    with pytest.raises(Cancelled):
        feedforward(frames, model, 1.0, 0, "none")


def test_color_match_measures_and_applies_where_the_masks_say(frames, painting):
    reference = comfy(painting)
    matched = color_match(frames, reference, "histogram", 1.0)
    target = reference.mean((0, 1, 2))
    assert (matched.mean((0, 1, 2)) - target).abs().max() < 0.2 * (frames.mean((0, 1, 2)) - target).abs().max()
    left = torch.zeros(1, 64, 128)
    left[:, :, :64] = 1
    masked = color_match(frames, reference, "histogram", 1.0, mask=left)
    assert torch.equal(masked[:, :, 64:], frames[:, :, 64:])
    none = color_match(frames, reference, "luminance", 0.0)
    assert torch.allclose(none, frames, atol=1e-6)


@pytest.mark.parametrize("path", sorted((ROOT / "tests" / "host" / "workflows").glob("*.json")), ids=lambda p: p.stem)
def test_example_workflows_match_the_nodes_and_the_tested_workflows(path):
    """The editor's example (``example_workflows/``) holds the same graph as the API copy the host test
    runs (which checks both against ComfyUI's declarations of the nodes)."""
    prompt = json.loads(path.read_text())
    graph = json.loads((ROOT / "example_workflows" / path.name).read_text())
    assert {str(node["id"]): node["type"] for node in graph["nodes"]} == {
        node: data["class_type"] for node, data in prompt.items()
    }
    assert {(str(link[1]), link[2], str(link[3])) for link in graph["links"]} == {
        (value[0], value[1], node) for node, data in prompt.items() for value in data["inputs"].values()
        if isinstance(value, list)
    }
    for node in graph["nodes"]:
        settings = [v for v in prompt[str(node["id"])]["inputs"].values() if not isinstance(v, list)]
        assert all(value in node["widgets_values"] for value in settings), node["type"]


def test_verify_watermark_reads_each_image_of_the_batch():
    photo, version = example("photo.jpg", 512), ".".join(__version__.split(".")[:2])
    report, all_marked = verify_watermark(comfy(torch.cat([api.marked(photo, serial=7), photo])))
    assert report == f"image 1: brushwork watermark, version {version}, serial 7\nimage 2: no brushwork watermark"
    assert all_marked is False
    assert verify_watermark(comfy(api.marked(photo))) == (f"image 1: brushwork watermark, version {version}", True)
