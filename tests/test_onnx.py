"""The ONNX backend: exported graphs match torch at other sizes and batches, the api's onnx backend
gives torch's result, and what it cannot do is refused by name (random-weight networks)."""

import pytest
import torch

from brushwork.cli import main
from plugin_core import api, onnx_backend
from plugin_core.errors import RequestError
from plugin_core.image import load_image
from plugin_core.loaders import load_model
from plugin_core.networks.fast_arbitrary import FastArbitraryNet
from plugin_core.regions import Region, Style
from plugin_core.tensor_files import write_tensors
from tests.conftest import EXAMPLES
from tests.weights import brushwork_decoder, fast_neural_style_state

pytest.importorskip("onnxruntime", reason="the onnx extra is not installed")


@pytest.fixture(scope="module")
def models(tmp_path_factory):
    """A weights file per family."""
    folder = tmp_path_factory.mktemp("models")
    torch.save(fast_neural_style_state(0), folder / "feedforward.pth")
    torch.manual_seed(0)
    write_tensors(folder / "fast.safetensors", FastArbitraryNet().state_dict(), {"family": "fast"})
    return {"feedforward": folder / "feedforward.pth", "fast": folder / "fast.safetensors",
            "adain": brushwork_decoder(folder), "adain-skips": brushwork_decoder(folder, skips=True)}


@pytest.fixture(autouse=True)
def user_cache(tmp_path_factory, monkeypatch):
    """One user cache for the module's exports."""
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path_factory.getbasetemp() / "cache"))


def _request(family, model, photo, painting, **options):
    options = {"method": family, "size": None, "precision": "float32"} | options
    if family == "feedforward":
        return api.StyleRequest(photo, [Region([Style(model=model)])], **options)
    return api.simple_request(photo, [painting], model=model, **options)


@pytest.mark.parametrize("model", ["feedforward", "fast", "adain", "adain-skips"])
def test_the_onnx_backend_gives_torchs_result(models, photo, painting, model):
    family = model.split("-")[0]
    frames = torch.cat([photo, photo.flip(-1)])
    torch_result = api.stylize(_request(family, models[model], frames, painting))
    onnx_result = api.stylize(_request(family, models[model], frames, painting, backend="onnx"))
    assert (onnx_result - torch_result).abs().max() < 1e-3
    exported = {path.name.split(".")[0] for path in (onnx_backend.registry.cache_dir() / "onnx").glob("*.onnx")}
    assert sum(name.startswith(family) for name in exported) == (2 if model == "adain-skips" else 1)


def test_exported_graphs_take_other_sizes_and_batches(models, tmp_path):
    loaded = load_model(models["fast"], "fast")
    paths = onnx_backend.export(loaded, tmp_path / "fast.onnx")
    assert [p.name for p in paths] == ["fast.onnx", "fast.style.onnx"]
    content, style = torch.rand(3, 3, 72, 100), torch.rand(1, 3, 64, 44)
    graph, style_graph = (onnx_backend.Graph(path) for path in paths)
    with torch.inference_mode():
        code = loaded.network.style_code(style)
        assert torch.allclose(style_graph(style), code, atol=1e-4)
        assert torch.allclose(graph(content, code.expand(3, -1)), loaded.network(content, code.expand(3, -1)),
                              atol=1e-4)


def test_the_cli_exports_and_keeps_existing_files(models, tmp_path, capsys):
    out = tmp_path / "style.onnx"
    assert main(["export", "onnx", str(models["feedforward"]), "-o", str(out)]) == 0
    assert "matches torch" in capsys.readouterr().out and out.stat().st_size > 1_000_000
    before = out.read_bytes()
    assert main(["export", "onnx", str(models["feedforward"]), "-o", str(out)]) == 2
    assert "exists" in capsys.readouterr().err and out.read_bytes() == before


def test_the_cli_stylizes_with_the_onnx_backend(models, tmp_path):
    out = tmp_path / "painted.png"
    assert main(["stylize", str(EXAMPLES / "photo.jpg"), "--method", "fast", "--model", str(models["fast"]),
                 "--style", str(EXAMPLES / "painting.jpg"), "--size", "96", "--backend", "onnx", "-q",
                 "-o", str(out)]) == 0
    assert load_image(out).rgb.shape[-1] == 96


def test_what_the_onnx_backend_cannot_do_is_refused(models, photo, painting):
    with pytest.raises(RequestError, match="whole images"):
        api.stylize(_request("feedforward", models["feedforward"], photo, painting, backend="onnx", tile=256,
                             size=600))
    with pytest.raises(RequestError, match="not gatys"):
        api.stylize(api.simple_request(photo, [painting], method="gatys", backend="onnx"))
    with pytest.raises(RequestError, match="unknown backend"):
        api.stylize(api.simple_request(photo, [painting], backend="tensorrt"))


def test_adain_on_onnx_runs_in_tiles(models, photo, painting):
    """AdaIN's statistics live outside its graphs, so its tiles share them as on torch."""
    large = torch.nn.functional.interpolate(photo, scale_factor=5, mode="bilinear")
    options = dict(size=None, tile=256, style_size=128)
    torch_result = api.stylize(_request("adain", models["adain"], large, painting, **options))
    onnx_result = api.stylize(_request("adain", models["adain"], large, painting, backend="onnx", **options))
    assert (onnx_result - torch_result).abs().max() < 1e-3
