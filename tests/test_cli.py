"""``brushwork stylize``: real runs at a small size, and every bad input exits 2 writing nothing."""

import json
import shutil
import subprocess
import sys

import numpy as np
import pytest
from PIL import Image

from plugin_core.cli import main

from .conftest import EXAMPLES

FAST = ["--size", "64", "--steps", "4", "--quiet"]


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
          "--mask", "sky_mask.png"], "3 --mask for 1 --style"),
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
    assert main(["stylize", "photo.jpg", *extra, *FAST]) == 2
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
    run = subprocess.run([sys.executable, "-m", "plugin_core.cli", "stylize", str(workdir / "photo.jpg"),
                          "--style", str(workdir / "nope.jpg")], capture_output=True, text=True)
    assert run.returncode == 2 and "nope.jpg does not exist" in run.stderr and "Traceback" not in run.stderr
