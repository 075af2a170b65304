"""INT8 graphs: the shipped ones paint as their float32 models do (the real weights, on images their
calibration never saw), the export command makes one that the onnx backend runs, and what INT8
cannot do is refused by name."""

import pytest
import torch

from bench.evaluate import score, ssim
from brushwork.cli import main
from plugin_core import api, onnx_int8
from plugin_core.color import luminance
from plugin_core.errors import RequestError
from plugin_core.loaders import load_model
from plugin_core.regions import Region, Style
from tests.conftest import EXAMPLES, example
from tests.weights import fast_neural_style_state

pytest.importorskip("onnxruntime", reason="the onnx extra is not installed")

MIN_SSIM = 0.97
STYLE_LOSS_ABOVE = 0.05
"""How far INT8's style loss may rise above float32's (bench/int8.py's bar; lower loses nothing)."""


@pytest.fixture(autouse=True)
def user_cache(tmp_path_factory, monkeypatch):
    """One user cache for the module's float exports."""
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path_factory.getbasetemp() / "int8-cache"))


def _request(method, model, photo, style, **options):
    options = {"method": method, "size": None, "precision": "float32", "watermark": False} | options
    if method == "feedforward":
        return api.StyleRequest(photo, [Region([Style(model=model)])], **options)
    return api.simple_request(photo, [style], model=model, **options)


@pytest.mark.parametrize(("method", "model"), [("feedforward", "waves"), ("adain", "brushwork-adain")])
def test_a_shipped_int8_graph_paints_as_its_float32_model(method, model):
    photo, style = example("photo.jpg", 384), example("painting2.jpg", 384)
    exact = api.stylize(_request(method, model, photo, style))
    quantised = api.stylize(_request(method, model, photo, style, backend="onnx", precision="int8"))
    assert ssim(luminance(quantised), luminance(exact)) >= MIN_SSIM
    style_losses = [score(image, photo, style)["style"] for image in (exact, quantised)]
    assert style_losses[1] <= (1 + STYLE_LOSS_ABOVE) * style_losses[0]


def test_the_cli_quantises_a_model_that_the_onnx_backend_then_runs(tmp_path, photo, capsys):
    import onnx

    weights = tmp_path / "mine.pth"
    torch.save(fast_neural_style_state(0), weights)
    assert main(["export", "onnx", str(weights), "--int8", "--calibrate", str(EXAMPLES)]) == 0
    graph = tmp_path / "mine.int8.onnx"
    assert str(graph) in capsys.readouterr().out
    nodes = [node.op_type for node in onnx.load(str(graph)).graph.node]
    assert nodes.count("DequantizeLinear") > nodes.count("Conv") > 0
    exact = api.stylize(_request("feedforward", weights, photo, None))
    quantised = api.stylize(_request("feedforward", weights, photo, None, backend="onnx", precision="int8"))
    assert quantised.shape == exact.shape and torch.isfinite(quantised).all()
    assert (quantised - exact).abs().mean() < 0.1
    before = graph.read_bytes()
    assert main(["export", "onnx", str(weights), "--int8", "--calibrate", str(EXAMPLES)]) == 2
    assert "exists; pass --overwrite" in capsys.readouterr().err and graph.read_bytes() == before


def test_what_int8_cannot_do_is_refused_by_name(tmp_path, photo, painting, capsys):
    with pytest.raises(RequestError, match="int8 runs feedforward and adain on the onnx backend, not adain on torch"):
        api.stylize(_request("adain", None, photo, painting, precision="int8"))
    with pytest.raises(RequestError, match="not fast on onnx"):
        api.stylize(_request("fast", None, photo, painting, backend="onnx", precision="int8"))
    for argv, message in [
        (["brushwork-fast", "--int8", "--calibrate", str(EXAMPLES)], "not fast: its small network paints no quicker"),
        (["waves", "--int8", "-o", str(tmp_path / "w.onnx")], "--int8 needs --calibrate"),
    ]:
        assert main(["export", "onnx", *argv]) == 2
        assert message in capsys.readouterr().err
    assert not (tmp_path / "w.onnx").exists()
    weights = tmp_path / "unquantised.pth"
    torch.save(fast_neural_style_state(0), weights)
    with pytest.raises(RequestError, match=r"no INT8 graph .*unquantised.int8.onnx.*brushwork export onnx .* --int8"):
        api.stylize(_request("feedforward", weights, photo, None, backend="onnx", precision="int8"))
    assert onnx_int8.graph_name(load_model(weights, "feedforward")) == "unquantised.int8.onnx"
