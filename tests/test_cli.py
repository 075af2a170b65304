"""``brushwork stylize``: real runs at a small size, and every bad input exits 2 writing nothing."""

import json
import shutil
import subprocess
import sys

import numpy as np
import pytest
import torch
from PIL import Image

from brushwork.cli import main
from plugin_core import registry
from plugin_core.image import load_image

from .conftest import EXAMPLES
from .weights import brushwork_decoder, fast_neural_style_state

FAST = ["--method", "gatys", "--size", "64", "--steps", "4", "--quiet"]


@pytest.fixture
def workdir(tmp_path):
    for name in ("photo.jpg", "painting.jpg", "painting2.jpg", "sky_mask.png", "land_mask.png"):
        shutil.copy(EXAMPLES / name, tmp_path / name)
    return tmp_path


def test_stylize_writes_a_png_with_provenance(workdir, capsys):
    out = workdir / "result.png"
    assert main(["stylize", str(workdir / "photo.jpg"), "--style", str(workdir / "painting.jpg"), "-o", str(out),
                 "--strength", "0.7", *FAST]) == 0
    assert f"wrote {out}" in capsys.readouterr().out
    pil = Image.open(out)
    assert pil.size == (64, 32)
    parameters = json.loads(pil.text["brushwork"])
    assert parameters["method"] == "gatys" and parameters["strength"] == 0.7
    assert parameters["styles"] == ["painting.jpg"]


def test_layer_options_are_taken_and_recorded(workdir):
    out = workdir / "layers.png"
    assert main(["stylize", str(workdir / "photo.jpg"), "--style", str(workdir / "painting.jpg"), "-o", str(out),
                 "--style-layers", "relu1_1,relu2_1", "--style-layer-weights", "0.2,0.8",
                 "--content-layers", "relu3_2", *FAST]) == 0
    parameters = json.loads(Image.open(out).text["brushwork"])
    assert parameters["style_layers"] == ["relu1_1", "relu2_1"] and parameters["style_layer_weights"] == [0.2, 0.8]
    assert parameters["content_layers"] == ["relu3_2"]


def test_default_output_is_next_to_the_photo_and_never_overwrites(workdir):
    args = ["stylize", str(workdir / "photo.jpg"), "--style", str(workdir / "painting.jpg"), *FAST]
    assert main(args) == 0 and main(args) == 0
    assert (workdir / "photo_gatys.png").is_file() and (workdir / "photo_gatys-2.png").is_file()


def test_two_regions_with_two_styles(workdir):
    out = workdir / "regions.png"
    assert main(["stylize", str(workdir / "photo.jpg"),
                 "--style", str(workdir / "painting2.jpg"), "--mask", str(workdir / "sky_mask.png"),
                 "--style", str(workdir / "painting.jpg"), "--mask", str(workdir / "land_mask.png"),
                 "-o", str(out), *FAST]) == 0
    assert Image.open(out).size == (64, 32)


def test_rgba_content_keeps_its_alpha(workdir):
    pixels = np.asarray(Image.open(workdir / "photo.jpg").convert("RGBA")).copy()
    pixels[:, :300, 3] = 0
    Image.fromarray(pixels, "RGBA").save(workdir / "cutout.png")
    out = workdir / "cutout_styled.png"
    assert main(["stylize", str(workdir / "cutout.png"), "--style", str(workdir / "painting.jpg"), "-o", str(out),
                 *FAST]) == 0
    alpha = np.asarray(Image.open(out))[..., 3]
    assert alpha[:, :20].max() == 0 and alpha[:, 32:].min() == 255


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--style", "missing.jpg"], "style missing.jpg does not exist"),
        (["--style", "notes.txt"], "is not an image file Pillow can read"),
        (["--style", "painting.jpg", "--method", "cubism"], "unknown method 'cubism'"),
        (["--style", "painting.jpg", "--mask", "empty.png"], "mask of region 1 is empty"),
        (["--style", "painting.jpg", "--mask", "sky_mask.png", "--mask", "land_mask.png",
          "--mask", "sky_mask.png"], "3 masks for 1 styles"),
        (["--style", "painting.jpg", "--strength", "2"], "strength must be between 0 and 1"),
        (["--style", "painting.jpg", "--style-layers", "relu1_1,relu9_1"], "style layers ['relu1_1', 'relu9_1']"),
        (["--style", "painting.jpg", "--style-layer-weights", "1,2"], "2 style layer weights for 5 style layers"),
        (["--style", "painting.jpg", "-o", "exists.png"], "exists.png exists; pass --overwrite"),
        (["--style", "painting.jpg", "-o", "photo.jpg", "--overwrite"], "is the content image"),
        (["--style", "painting.jpg", "-o", "out.gif"], "cannot write out.gif"),
        (["--style", "painting.jpg", "-o", "nowhere/out.png"], "folder nowhere does not exist"),
    ],
)
def test_bad_input_exits_2_with_one_line_and_writes_nothing(workdir, monkeypatch, capsys, extra, message):
    monkeypatch.chdir(workdir)
    (workdir / "notes.txt").write_text("not a picture")
    Image.new("L", (720, 360)).save(workdir / "empty.png")
    (workdir / "exists.png").write_bytes(b"precious")
    before = sorted(p.name for p in workdir.iterdir())
    assert main(["stylize", "photo.jpg", *FAST, *extra]) == 2  # a --method in extra wins
    error = capsys.readouterr().err.strip().splitlines()
    assert len(error) == 1 and error[0].startswith("brushwork: error: ") and message in error[0]
    assert sorted(p.name for p in workdir.iterdir()) == before
    assert (workdir / "exists.png").read_bytes() == b"precious"


def test_mask_of_another_size_is_resized_with_a_warning(workdir, capsys):
    Image.open(workdir / "sky_mask.png").resize((100, 50)).save(workdir / "small_mask.png")
    assert main(["stylize", str(workdir / "photo.jpg"), "--style", str(workdir / "painting.jpg"),
                 "--mask", str(workdir / "small_mask.png"), "-o", str(workdir / "o.png"), *FAST]) == 0
    assert "brushwork: warning: mask" in capsys.readouterr().err


def test_module_entry_point_exit_code(workdir):
    run = subprocess.run([sys.executable, "-m", "brushwork.cli", "stylize", str(workdir / "photo.jpg"),
                          "--style", str(workdir / "nope.jpg")], capture_output=True, text=True)
    assert run.returncode == 2 and "nope.jpg does not exist" in run.stderr and "Traceback" not in run.stderr


def test_adain_and_feedforward_by_model(workdir, tmp_path_factory):
    models = tmp_path_factory.mktemp("models")
    decoder = brushwork_decoder(models)
    torch.save(fast_neural_style_state(1), models / "candy.pth")
    photo, painting = str(workdir / "photo.jpg"), str(workdir / "painting.jpg")
    assert main(["stylize", photo, "--method", "adain", "--model", str(decoder), "--style", painting,
                 "--alpha", "0.8", "--precision", "float32", "--size", "64", "-q"]) == 0
    parameters = json.loads(Image.open(workdir / "photo_adain.png").text["brushwork"])
    assert parameters["method"] == "adain" and parameters["strength"] == 0.8 and parameters["precision"] == "float32"
    assert parameters["styles"] == ["painting.jpg"]
    assert main(["stylize", photo, "--method", "feedforward", "--model", str(models / "candy.pth"),
                 "--mask", str(workdir / "sky_mask.png"), "--size", "64", "-q"]) == 0
    result = np.asarray(Image.open(workdir / "photo_feedforward.png"), dtype=float)
    assert result.shape == (32, 64, 3)


def test_batch_stylizes_every_frame_into_a_folder(workdir, tmp_path_factory, capsys):
    frames = workdir / "frames"
    frames.mkdir()
    for i in range(3):
        Image.open(workdir / "photo.jpg").rotate(i * 5).save(frames / f"frame{i:03}.jpg")
    models = tmp_path_factory.mktemp("models")
    torch.save(fast_neural_style_state(1), models / "candy.pth")
    assert main(["stylize", str(frames), "--batch", "--method", "feedforward", "--model", str(models / "candy.pth"),
                 "--size", "64", "-q"]) == 0
    out = workdir / "frames_feedforward"
    assert sorted(p.name for p in out.iterdir()) == ["frame000.png", "frame001.png", "frame002.png"]
    assert capsys.readouterr().out.count("wrote ") == 3
    assert main(["stylize", str(frames), "--batch", "--method", "feedforward", "--model", str(models / "candy.pth"),
                 "-q"]) == 2
    assert "frame000.png exists; pass --overwrite" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--method", "adain", "--style", "painting.jpg", "--model", "nowhere.pth"],
         "model file nowhere.pth does not exist"),
        (["--method", "feedforward"], "feedforward needs a style model"),
        (["--method", "feedforward", "--model", "udnie"], "'udnie' is not installed"),
        (["--method", "adain"], "adain needs at least one style image"),
        (["--batch", "--style", "painting.jpg"], "--batch needs a folder of frames"),
    ],
)
def test_bad_model_requests_exit_2(workdir, monkeypatch, capsys, tmp_path, extra, message):
    monkeypatch.chdir(workdir)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "empty-cache"))
    assert main(["stylize", "photo.jpg", *extra, "--size", "64", "-q"]) == 2
    error = capsys.readouterr().err.strip().splitlines()
    assert len(error) == 1 and message in error[0]


def test_models_list_download_verify(monkeypatch, tmp_path, capsys):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    monkeypatch.setenv("BRUSHWORK_MODELS", str(tmp_path / "mine"))
    (tmp_path / "mine").mkdir()
    torch.save(fast_neural_style_state(1), tmp_path / "mine" / "sunset.pth")
    assert main(["models", "list"]) == 0
    listing = capsys.readouterr().out
    assert "adain-pytorch" in listing and "missing" in listing and "sunset" in listing and "MIT" in listing
    assert main(["models", "verify", "candy"]) == 0
    assert "candy.pth" in (checked := capsys.readouterr().out) and "missing" in checked
    monkeypatch.setattr(registry, "read_manifest", lambda: {
        "candy": registry.KnownModel("candy", "feedforward", (registry.ModelFile("candy.pth", "http://127.0.0.1:9/c"),))
    })
    assert main(["models", "download", "candy", "-q"]) == 2
    error = capsys.readouterr().err
    assert "could not download http://127.0.0.1:9/c" in error and str(tmp_path / "brushwork") in error


def test_train_writes_weights_a_card_and_resumes(workdir, tmp_path, capsys):
    content, styles = tmp_path / "photos", tmp_path / "paintings"
    content.mkdir()
    styles.mkdir()
    shutil.copy(workdir / "photo.jpg", content)
    shutil.copy(workdir / "painting.jpg", styles)
    run = tmp_path / "run"
    common = ["--content", str(content), "--run", str(run), "--batch", "1", "--size", "32", "--log-every", "1",
              "--checkpoint-every", "1", "--device", "cpu", "-q"]
    assert main(["train", "fast-arbitrary", "--style", str(styles), "--steps", "2", *common]) == 0
    assert f"wrote {run / 'fast.safetensors'}" in capsys.readouterr().out
    assert main(["train", "fast", "--style", str(styles), "--steps", "3", *common]) == 0
    log = (run / "losses.csv").read_text().splitlines()
    assert [row.split(",")[0] for row in log] == ["step", "1", "2", "3"]
    assert "| command | brushwork train fast --style" in (run / "fast.md").read_text()
    assert main(["train", "feedforward", "--style", str(styles), "--steps", "1", *common]) == 2
    assert "feedforward learns one style image" in capsys.readouterr().err
    assert main(["train", "adain", "--style", str(styles), "--steps", "1", *common]) == 2
    assert "belongs to a fast run, not adain" in capsys.readouterr().err
    assert main(["train", "adain", "--style", str(tmp_path / "none"), "--steps", "1", *common]) == 2
    assert f"style folder {tmp_path / 'none'} does not exist" in capsys.readouterr().err


def test_tile_and_native_size_are_taken_and_recorded(workdir, capsys):
    out = workdir / "tiled.png"
    assert main(["stylize", str(workdir / "photo.jpg"), "--style", str(workdir / "painting.jpg"), "-o", str(out),
                 "--size", "0", "--tile", "256", "--steps", "4", "-q"]) == 0
    photo = load_image(workdir / "photo.jpg").rgb
    assert load_image(out).rgb.shape == photo.shape
    assert json.loads(Image.open(out).info["brushwork"])["tile"] == 256
    with pytest.raises(SystemExit):
        main(["stylize", str(workdir / "photo.jpg"), "--style", str(workdir / "painting.jpg"), "--tile", "big"])
    assert "tile must be auto, off or a number" in capsys.readouterr().err


def test_verify_reads_the_mark_stylize_adds_unless_told_not_to(workdir, capsys):
    """``brushwork verify``: 0 when every file is marked, 1 when one is not, 2 when one is not an image;
    ``--json`` for machines. ``--watermark off`` leaves the mark out, and the file says so."""
    marked, plain = workdir / "marked.jpg", workdir / "plain.png"
    one_pass = [str(workdir / "photo.jpg"), "--style", str(workdir / "painting.jpg"), "--method", "fast", "-q"]
    assert main(["stylize", *one_pass, "-o", str(marked)]) == 0
    assert main(["stylize", *one_pass, "-o", str(plain), "--watermark", "off"]) == 0
    assert json.loads(Image.open(plain).text["brushwork"])["watermark"] is False
    capsys.readouterr()
    assert main(["verify", str(marked)]) == 0
    assert capsys.readouterr().out.startswith(f"{marked}: brushwork watermark (version ")
    assert main(["verify", str(marked), str(plain)]) == 1
    assert f"{plain}: no brushwork watermark; metadata: brushwork" in capsys.readouterr().out
    assert main(["verify", str(marked), str(workdir / "missing.png"), str(plain), "--json"]) == 2
    first, missing, last = json.loads(capsys.readouterr().out)
    assert first["watermark"]["serial"] == 0 and first["metadata"]["parameters"]["method"] == "fast"
    assert missing == {"file": str(workdir / "missing.png"), "error": f"image {workdir / 'missing.png'} does not exist"}
    assert last["watermark"] is None and last["metadata"]["ai_generated"]


def test_stylize_signs_content_credentials_that_verify_checks(workdir, development_certificate, capsys):
    """C2PA: signed with the development certificate (untrusted, unless ``--trust`` names its CA);
    one changed byte reads as tampered while the mark still reads; ``--c2pa off`` signs nothing."""
    signed, unsigned = workdir / "signed.jpg", workdir / "unsigned.png"
    one_pass = [str(workdir / "photo.jpg"), "--style", str(workdir / "painting.jpg"), "--method", "fast", "-q"]
    assert main(["stylize", *one_pass, "-o", str(signed)]) == 0
    assert main(["stylize", *one_pass, "-o", str(unsigned), "--c2pa", "off"]) == 0
    capsys.readouterr()

    def c2pa(*extra: str) -> list:
        main(["verify", "--json", *extra])
        return [report["c2pa"]["state"] for report in json.loads(capsys.readouterr().out)]

    assert c2pa(str(signed), str(unsigned)) == ["untrusted", "absent"]
    assert c2pa(str(signed), "--trust", str(development_certificate / "ca.pem")) == ["trusted"]
    data = signed.read_bytes()
    middle = (data.rindex(b"\xff\xda") + len(data)) // 2  # amid the last scan's data, a byte whose change
    pixels = next(i for i in range(middle, len(data)) if data[i - 1] != 0xFF and data[i] < 0xFE)  # makes no marker
    signed.write_bytes(data[:pixels] + bytes([data[pixels] ^ 1]) + data[pixels + 1 :])
    assert main(["verify", str(signed)]) == 0  # the watermark still reads
    assert "C2PA: the file changed after it was signed" in capsys.readouterr().out


@pytest.mark.parametrize("argv", [
    ["--version"], ["--help"], ["models", "list"], ["stylize", "--help"], ["video", "--help"],
    ["batch", "--help"], ["serve", "--help"], ["verify", "--help"], ["export", "--help"],
    ["stylize", "photo.jpg", "--color", "sepia"],
])
def test_answers_that_paint_nothing_import_no_torch(argv):
    """A new process answers these without loading torch (seconds on a small machine)."""
    probe = ("import sys, runpy; sys.argv = ['brushwork', *sys.argv[1:]]\n"
             "try:\n    runpy.run_module('brushwork.cli', run_name='__main__')\n"
             "except SystemExit as end:\n    code = end.code\n"
             "print('TORCH' if 'torch' in sys.modules else 'NO TORCH', file=sys.stderr); sys.exit(code)")
    ran = subprocess.run([sys.executable, "-c", probe, *argv], capture_output=True, text=True, timeout=120)
    assert ran.stderr.splitlines()[-1] == "NO TORCH", ran.stderr
    assert ran.returncode == (2 if "sepia" in argv else 0), ran.stderr
    assert ("invalid choice: 'sepia'" in ran.stderr) if "sepia" in argv else ran.stdout.strip()
