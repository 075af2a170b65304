"""Model registry and loaders: search order, manifest, downloads, checksums, safe and cached loading."""

import zipfile

import pytest
import torch

from plugin_core import loaders, registry
from plugin_core.errors import WeightsError
from plugin_core.loaders import load_model
from plugin_core.networks.transformer_net import TransformerNet
from plugin_core.networks.vgg import InputNorm
from plugin_core.tensor_files import write_tensors

from .weights import adain_pair, brushwork_decoder, fast_neural_style_state


@pytest.fixture
def folders(tmp_path, monkeypatch):
    """Two BRUSHWORK_MODELS folders and an empty user cache, none of them the user's real ones."""
    first, second, cache = tmp_path / "first", tmp_path / "second", tmp_path / "xdg"
    for folder in (first, second):
        folder.mkdir()
    monkeypatch.setenv("BRUSHWORK_MODELS", f"{first}:{second}")
    monkeypatch.setenv("XDG_CACHE_HOME", str(cache))
    monkeypatch.setattr(registry, "_host_dirs", [])
    return first, second, cache / "brushwork"


def _manifest(url, sha="", archive=None, name="style.pth", family="feedforward"):
    file = registry.ModelFile(name, url, sha, archive)
    return {"style": registry.KnownModel("style", family, (file,), licence="CC0")}


def test_search_order(folders, tmp_path):
    first, second, cache = folders
    host = tmp_path / "comfy"
    registry.add_host_dir(host)
    assert registry.search_dirs() == [first, second, host, registry.PROJECT_MODELS, cache]
    for folder in (second, host, cache):
        folder.mkdir(parents=True, exist_ok=True)
        torch.save(fast_neural_style_state(1), folder / "mine.pth")
    assert registry.resolve("mine") == [second / "mine.pth"]
    torch.save(fast_neural_style_state(1), first / "mine.pth")
    assert registry.resolve("mine") == [first / "mine.pth"]
    (first / "mine.pth").unlink()
    (second / "mine.pth").unlink()
    assert registry.resolve("mine") == [host / "mine.pth"]


def test_the_shipped_manifest_is_well_formed():
    manifest = registry.read_manifest()
    assert {"adain-pytorch", "candy", "mosaic", "rain-princess", "udnie"} <= set(manifest)
    for model in manifest.values():
        assert model.licence and model.citation and model.homepage
        for file in (*model.files, *model.graphs):
            shipped = (registry.PROJECT_MODELS / file.name).is_file() and len(file.sha256) == 64
            assert shipped or (file.url.startswith("https://") and (file.sha256 == "" or len(file.sha256) == 64))


def test_a_missing_known_model_says_how_to_get_it(folders):
    with pytest.raises(WeightsError, match=r"'candy' is not installed.*brushwork models download candy.*dropbox"):
        registry.resolve("candy")
    with pytest.raises(WeightsError, match="unknown model 'picasso'"):
        registry.resolve("picasso")
    downloads_only = {"adain-pytorch": registry.read_manifest()["adain-pytorch"]}
    with pytest.raises(WeightsError, match="no adain model is installed .known: adain-pytorch"):
        registry.default_model("adain", downloads_only)


def test_download_verifies_and_moves_in_atomically(folders, tmp_path):
    source = tmp_path / "upstream.pth"
    torch.save(fast_neural_style_state(1), source)
    sha = registry.sha256(source)
    manifest = _manifest(source.as_uri(), sha)
    [path] = registry.download("style", quiet=True, manifest=manifest)
    cache = folders[2]
    assert path == cache / "style.pth" and registry.sha256(path) == sha
    assert sorted(p.name for p in cache.iterdir()) == ["style.pth"]
    assert [c.status for c in registry.verify(manifest=manifest)] == ["ok"]


def test_a_checksum_mismatch_keeps_nothing(folders, tmp_path):
    source = tmp_path / "upstream.pth"
    source.write_bytes(b"tampered")
    with pytest.raises(WeightsError, match="has sha256 .* the manifest expects 0000.*it was not kept"):
        registry.download("style", quiet=True, manifest=_manifest(source.as_uri(), "0" * 64))
    assert list(folders[2].iterdir()) == []


def test_a_file_inside_a_zip_archive(folders, tmp_path):
    member = tmp_path / "style.pth"
    torch.save(fast_neural_style_state(1), member)
    archive = tmp_path / "saved_models.zip"
    with zipfile.ZipFile(archive, "w") as bundle:
        bundle.write(member, "saved_models/style.pth")
    manifest = _manifest(archive.as_uri(), registry.sha256(member), archive="zip")
    [path] = registry.download("style", quiet=True, manifest=manifest)
    assert registry.sha256(path) == registry.sha256(member)
    assert sorted(p.name for p in folders[2].iterdir()) == ["style.pth"]


def test_offline_download_names_the_url_and_the_folder(folders):
    manifest = _manifest("http://127.0.0.1:9/style.pth")
    with pytest.raises(WeightsError) as error:
        registry.download("style", quiet=True, manifest=manifest)
    assert "could not download http://127.0.0.1:9/style.pth" in str(error.value)
    assert f"put style.pth in {folders[2]}" in str(error.value)
    assert list(folders[2].iterdir()) == []


def test_unpinned_files_warn_with_their_checksum(folders, tmp_path):
    source = tmp_path / "upstream.pth"
    torch.save(fast_neural_style_state(1), source)
    manifest = _manifest(source.as_uri())
    with pytest.warns(UserWarning, match=f"no sha256 is recorded for style.pth.*{registry.sha256(source)}"):
        registry.download("style", quiet=True, manifest=manifest)
    assert [c.status for c in registry.verify(manifest=manifest)] == ["unpinned"]


def test_verify_reports_a_changed_file(folders, tmp_path):
    (folders[0] / "style.pth").write_bytes(b"changed")
    checks = registry.verify(manifest=_manifest("https://example.org/style.pth", "1" * 64))
    assert checks[0].status == "mismatch" and "expected 1111" in checks[0].detail


def test_a_pickle_that_runs_code_is_refused(folders):
    class Payload:
        def __reduce__(self):
            return (print, ("this must never run",))

    torch.save({"conv1.conv2d.weight": Payload()}, folders[0] / "evil.pth")
    with pytest.raises(WeightsError, match="evil.pth is not a readable model weights file: .*would run code"):
        load_model("evil", "feedforward")


def test_a_corrupt_or_foreign_file_is_named(folders):
    (folders[0] / "broken.safetensors").write_bytes(b"\x00" * 40)
    with pytest.raises(WeightsError, match="broken.safetensors is not a readable model weights file"):
        load_model("broken", "feedforward")
    torch.save({"fc.weight": torch.zeros(3, 3)}, folders[0] / "classifier.pth")
    with pytest.raises(WeightsError, match="classifier.pth is no known model .its first keys: fc.weight"):
        load_model("classifier", "feedforward")


def test_another_architecture_is_named(folders):
    torch.save(fast_neural_style_state(1), folders[0] / "candy.pth")
    with pytest.raises(WeightsError, match="an AdaIN decoder was asked for, but .*candy.pth is a feed-forward style"):
        load_model(folders[0] / "candy.pth", "adain")
    adain_pair(folders[1])
    with pytest.raises(WeightsError, match="vgg_normalised.pth is pytorch-AdaIN's VGG19 encoder"):
        load_model(folders[1] / "vgg_normalised.pth", "feedforward")


def test_the_published_adain_pair_loads_by_folder_and_by_decoder(folders):
    adain_pair(folders[0])
    by_folder = load_model(folders[0], "adain")
    by_decoder = load_model(folders[0] / "decoder.pth", "adain")
    for model in (by_folder, by_decoder):
        assert model.network.encoder.conv1_1.padding_mode == "reflect"
        assert isinstance(model.network.encoder.norm, torch.nn.Conv2d)


def test_loaded_models_are_cached_until_the_file_changes(folders):
    path = folders[0] / "mine.safetensors"
    write_tensors(path, TransformerNet().state_dict(), {})
    first = load_model("mine", "feedforward")
    assert load_model(path, "feedforward").network is first.network
    write_tensors(path, TransformerNet().state_dict(), {})
    assert load_model("mine", "feedforward").network is not first.network
    loaders.clear_cache()
    assert load_model("mine", "feedforward").network is not first.network


def test_brushwork_decoders_pair_with_brushwork_vgg(folders):
    model = load_model(brushwork_decoder(folders[0]), "adain")
    assert isinstance(model.network.encoder.norm, InputNorm) and model.network.encoder.conv1_1.padding_mode == "zeros"
