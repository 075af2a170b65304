"""The GIMP filter's brushwork side: the worker's file protocol, install/uninstall/doctor, the CLI."""

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from brushwork.cli import main
from gimp_plugin import bridge, worker
from plugin_core.errors import RequestError

from .conftest import EXAMPLES

REQUEST = {"method": "gatys", "model": "", "strength": 0.5, "color": "none", "size": 64, "steps": 3,
           "style": str(EXAMPLES / "painting.jpg")}


def photo_pixels(channels: int) -> np.ndarray:
    """The example photo as GIMP hands it over: float32 ``[h, w, channels]``, grey/RGB, with alpha or not."""
    image = Image.open(EXAMPLES / "photo.jpg").resize((96, 48))
    colour = np.asarray(image.convert("L" if channels in (1, 2) else "RGB"), np.float32).reshape(48, 96, -1) / 255
    if channels in (2, 4):
        alpha = np.linspace(0, 1, 96, dtype=np.float32)[None, :, None].repeat(48, 0)
        colour = np.concatenate([colour, alpha], axis=2)
    return colour


def request_folder(folder: Path, channels: int = 3, mask: np.ndarray | None = None, **changes) -> Path:
    folder.mkdir(exist_ok=True)
    (folder / "request.json").write_text(json.dumps(REQUEST | changes))
    np.save(folder / "content.npy", photo_pixels(channels))
    if mask is not None:
        np.save(folder / "mask.npy", mask)
    return folder


@pytest.mark.parametrize("channels, method", [(1, "fast"), (2, "fast"), (3, "gatys"), (4, "fast")])
def test_the_worker_paints_every_mode_and_keeps_alpha(tmp_path, capsys, channels, method):
    """Grey, grey + alpha, RGB and RGBA layers (the one-pass model for the plumbing, Gram once)."""
    folder = request_folder(tmp_path / "request", channels, method=method)
    assert worker.main([str(folder)]) == 0
    result, content = np.load(folder / "result.npy"), photo_pixels(channels)
    assert result.shape == content.shape and result.dtype == np.float32
    if channels in (2, 4):
        assert np.array_equal(result[..., -1], content[..., -1])
    colour = slice(0, 3 if channels > 2 else 1)  # alpha is compared above, and would halve a grey image's mean
    assert np.abs(result[..., colour] - content[..., colour]).mean() > 0.02
    fractions = [float(line.split()[1]) for line in capsys.readouterr().out.splitlines()]
    assert fractions == sorted(fractions) and fractions[-1] == 1.0 and len(fractions) > (2 if method == "gatys" else 1)


def test_outside_the_mask_comes_back_exactly(tmp_path):
    mask = np.zeros((48, 96), np.float32)
    mask[:, :40] = 1
    mask[:, 40:50] = 0.5
    folder = request_folder(tmp_path / "request", 4, mask)
    assert worker.main([str(folder)]) == 0
    result, content = np.load(folder / "result.npy"), photo_pixels(4)
    assert np.array_equal(result[:, 50:], content[:, 50:])
    assert np.abs(result[:, :40] - content[:, :40]).mean() > 0.02


def test_a_style_layer_can_be_the_style(tmp_path):
    folder = request_folder(tmp_path / "request", 3, style=None)
    style = np.asarray(Image.open(EXAMPLES / "painting2.jpg").convert("RGBA"), np.float32) / 255
    np.save(folder / "style.npy", style)
    assert worker.main([str(folder)]) == 0
    from_layer = np.load(folder / "result.npy")
    file_folder = request_folder(tmp_path / "file", 3, style=str(EXAMPLES / "painting2.jpg"))
    assert worker.main([str(file_folder)]) == 0
    other_folder = request_folder(tmp_path / "other", 3)  # painting.jpg
    assert worker.main([str(other_folder)]) == 0
    from_file, other = np.load(file_folder / "result.npy"), np.load(other_folder / "result.npy")
    assert np.abs(from_layer - from_file).mean() < 0.1 * np.abs(from_layer - other).mean()  # the layer painted


def test_a_feed_forward_request_without_a_model_paints_with_the_shipped_default(tmp_path):
    folder = request_folder(tmp_path / "request", method="feedforward", style=None, model="")
    assert worker.main([str(folder)]) == 0
    assert np.abs(np.load(folder / "result.npy") - photo_pixels(3)).mean() > 0.02


@pytest.mark.parametrize(("changes", "message"), [
    ({"style": "/nowhere/painting.jpg"}, "error style /nowhere/painting.jpg does not exist"),
    ({"style": None}, "error the gatys method needs a style image or a style layer"),
    ({"method": "feedforward", "model": "picasso"}, "error unknown model 'picasso'"),
    ({"method": "adain", "model": "/nowhere/decoder.safetensors"}, "does not exist"),
    ({"method": "cubism"}, "error unknown method 'cubism'"),
])
def test_failures_print_one_error_line_and_exit_2(tmp_path, capsys, changes, message):
    folder = request_folder(tmp_path / "request", **changes)
    assert worker.main([str(folder)]) == worker.EXIT_FAILED
    errors = [line for line in capsys.readouterr().out.splitlines() if line.startswith("error ")]
    assert len(errors) == 1 and message in errors[0]
    assert not (folder / "result.npy").exists()


def test_an_unreadable_request_is_named(tmp_path, capsys):
    folder = request_folder(tmp_path / "request")
    (folder / "content.npy").write_bytes(b"not numpy")
    assert worker.main([str(folder)]) == worker.EXIT_FAILED
    assert f"error the request in {folder} is incomplete or unreadable" in capsys.readouterr().out


def start_worker(folder: Path) -> subprocess.Popen:
    """The worker as the plug-in starts it: stdin held open, progress on stdout."""
    return subprocess.Popen([sys.executable, "-m", "gimp_plugin.worker", str(folder)], stdin=subprocess.PIPE,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def test_the_worker_runs_as_a_module_like_the_plugin_calls_it(tmp_path):
    folder = request_folder(tmp_path / "request", style="/nowhere.jpg")
    run = start_worker(folder)
    output = run.stdout.read()
    assert run.wait(timeout=120) == 2 and output.strip().endswith("error style /nowhere.jpg does not exist")
    run.stdin.close()


@pytest.mark.parametrize("pipe", ["stdin", "stdout"])
def test_the_worker_stops_and_cleans_up_when_the_plugin_is_gone(tmp_path, pipe):
    """GIMP's Cancel kills the plug-in, which ends the worker's stdin and its progress pipe: either
    stops the worker mid-run, writing nothing and removing its folder."""
    folder = request_folder(tmp_path / "request", steps=5000)
    run = start_worker(folder)
    assert run.stdout.readline().startswith("progress ")
    getattr(run, pipe).close()
    code = run.wait(timeout=120)
    errors = run.stderr.read()
    assert code == worker.EXIT_CANCELLED, errors
    assert not folder.exists() and "Traceback" not in errors


def test_profile_folders_per_system(tmp_path):
    linux = bridge.candidate_dirs({"XDG_CONFIG_HOME": str(tmp_path / "config")}, tmp_path, "linux")
    assert tmp_path / "config/GIMP/3.0" in linux and tmp_path / ".var/app/org.gimp.GIMP/config/GIMP/3.2" in linux
    assert bridge.candidate_dirs({}, tmp_path, "darwin")[0] == tmp_path / "Library/Application Support/GIMP/3.0"
    assert bridge.candidate_dirs({"APPDATA": "C:/Users/a/AppData/Roaming"}, tmp_path, "win32")[1] == Path(
        "C:/Users/a/AppData/Roaming/GIMP/3.2")


def test_no_profile_is_a_clear_error(tmp_path, monkeypatch):
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))
    with pytest.raises(RequestError, match="no GIMP 3 profile folder found .looked in .*config/GIMP/3.0.*--gimp-dir"):
        bridge.install()
    (tmp_path / "config" / "GIMP" / "3.2").mkdir(parents=True)
    assert bridge.profile_dirs() == [tmp_path / "config" / "GIMP" / "3.2"]


def test_install_doctor_uninstall(tmp_path, capsys):
    assert main(["gimp", "doctor", "--gimp-dir", str(tmp_path)]) == 1
    assert "plug-in" in capsys.readouterr().out
    assert main(["gimp", "install", "--gimp-dir", str(tmp_path)]) == 0
    plugin = tmp_path / "plug-ins" / bridge.PLUGIN_NAME / f"{bridge.PLUGIN_NAME}.py"
    assert plugin.read_bytes() == bridge.PLUGIN_SOURCE.read_bytes() and os.access(plugin, os.X_OK)
    assert json.loads(plugin.with_name("brushwork.json").read_text())["python"] == sys.executable
    checks = {check.what: check for check in bridge.doctor(tmp_path)}
    assert all(checks[what].ok for what in ("GIMP profile", "plug-in", "config", "worker", "VGG19 weights"))
    shipped = {"AdaIN model": "brushwork-adain", "fast model": "brushwork-fast", "feed-forward model": "waves"}
    assert {what: checks[what].detail for what in shipped} == shipped and all(checks[w].ok for w in shipped)
    plugin.write_text("# an older plug-in\n")
    assert "outdated" in {check.what: check for check in bridge.doctor(tmp_path)}["plug-in"].detail
    assert main(["gimp", "uninstall", "--gimp-dir", str(tmp_path)]) == 0
    assert not plugin.parent.exists() and (tmp_path / "plug-ins").is_dir()
    assert "removed" in capsys.readouterr().out
