"""One request builder for every door: the same fields give the same request in each door, every
door shows the same defaults, and the core imports no door."""

from __future__ import annotations

import ast
import io
import json
import re
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

import brushwork.painting
from brushwork.batch.painter import Painter
from brushwork.cli import parser as cli_parser
from brushwork.cli import reading
from brushwork.service.forms import order_form
from brushwork.service.painting import Order, style_request
from brushwork.service.settings import Limits
from brushwork.service.store import Upload
from comfy_nodes import nodes
from gimp_plugin import painter
from plugin_core import api, registry
from plugin_core.controls import DEFAULT_SIZE, DEFAULT_STEPS, tile_label, tile_side
from plugin_core.errors import RequestError
from plugin_core.image import load_image
from plugin_core.masks import load_mask
from plugin_core.requests import Fields, build

from .conftest import EXAMPLES, ROOT, example

if sys.version_info >= (3, 11):
    import tomllib
else:
    import tomli as tomllib

ADAPTERS = ("brushwork", "comfy_nodes", "gimp_plugin", "fastapi", "uvicorn", "ray", "sqlalchemy")
TOP_LEVEL = {"plugin_core", "comfy_nodes", "gimp_plugin", "brushwork", "brushwork_models"}
SIZE, STRENGTH, TILE, COLOR = 96, 0.7, 256, "luminance"


def imported_names(path: Path) -> set[str]:
    """The top-level package of every module a Python file imports (lazily or not)."""
    names = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            names |= {alias.name.split(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names.add(node.module.split(".")[0])
    return names


def test_the_core_imports_no_door_host_or_service_library():
    found = {str(path.relative_to(ROOT)): imported_names(path) & set(ADAPTERS)
             for path in (ROOT / "plugin_core").rglob("*.py")}
    assert not {name: sorted(found) for name, found in found.items() if found}


def test_the_wheel_installs_only_the_products_top_level_packages():
    packages = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]["packages"]
    assert {package.split(".")[0] for package in packages} == TOP_LEVEL
    assert not any(name.startswith(("web_service", "batch_jobs")) for name in packages)


def summary(request: api.StyleRequest) -> dict:
    """What a request paints, comparable across doors (tensors by their values, models by name)."""
    model = request.model
    if model is None and request.method in ("adain", "fast"):
        model = registry.default_model(request.method)
    regions = [
        {"weights": [round(style.weight, 6) for style in region.styles],
         "styles": [round(float(style.image.double().sum()), 2) for style in region.styles],
         "mask": None if region.mask is None else round(float(region.mask.double().sum()), 2)}
        for region in request.regions
    ]
    return {
        "content": round(float(request.content.double().sum()), 2), "method": request.method,
        "strength": request.strength, "model": getattr(model, "name", model), "color": request.color,
        "color_when": request.color_when, "size": request.size, "tile": request.tile, "steps": request.steps,
        "seed": request.seed, "regions": regions,
    }


@pytest.fixture(scope="module")
def files(tmp_path_factory) -> Path:
    """The photo, the painting and a mask of the photo's left half, as files."""
    folder = tmp_path_factory.mktemp("fields")
    for name in ("photo.jpg", "painting.jpg"):
        (folder / name).write_bytes((EXAMPLES / name).read_bytes())
    width, height = Image.open(folder / "photo.jpg").size
    left = np.zeros((height, width), np.uint8)
    left[:, : width // 2] = 255
    Image.fromarray(left, "L").save(folder / "mask.png")
    return folder


@pytest.fixture(scope="module")
def expected(files) -> dict:
    """The request built straight from the fields: AdaIN, one style, one mask, strength, size, tile, colour."""
    photo = load_image(files / "photo.jpg").rgb
    fields = Fields(method="adain", styles=[load_image(files / "painting.jpg").rgb], strength=STRENGTH,
                    size=SIZE, tile=TILE, color=COLOR,
                    masks=[load_mask(files / "mask.png", tuple(photo.shape[-2:]))])
    return summary(build(photo, fields))


def cli_request(files: Path) -> api.StyleRequest:
    args = cli_parser().parse_args([
        "stylize", str(files / "photo.jpg"), "--style", str(files / "painting.jpg"), "--mask", str(files / "mask.png"),
        "--strength", str(STRENGTH), "--size", str(SIZE), "--tile", str(TILE), "--color", COLOR])
    photo = load_image(args.content).rgb
    return reading.request(args, photo, reading.fields(args, reading.load_masks(args, tuple(photo.shape[-2:]))))


def python_request(files: Path) -> api.StyleRequest:
    return brushwork.painting.request(Image.open(files / "photo.jpg"), files / "painting.jpg",
                                      mask=files / "mask.png", strength=STRENGTH, size=SIZE, tile=TILE, color=COLOR)


def rest_request(files: Path) -> api.StyleRequest:
    uploads = [Upload(field, name, (files / name).read_bytes())
               for field, name in (("content", "photo.jpg"), ("style", "painting.jpg"), ("mask", "mask.png"))]
    fields = {"method": "adain", "model": [], "style_weight": [], "strength": STRENGTH, "color": COLOR,
              "color_when": "after", "size": SIZE, "tile": str(TILE), "steps": DEFAULT_STEPS, "seed": 0,
              "format": "png"}
    return style_request(Order(fields, uploads), Limits(), "cpu")[0]


def batch_request(files: Path) -> api.StyleRequest:
    defaults = {"method": "adain", "style": "", "model": "", "style_weight": "", "strength": None, "color": "none",
                "size": DEFAULT_SIZE, "tile": "auto", "steps": DEFAULT_STEPS}
    row = {"content": str(files / "photo.jpg"), "style": str(files / "painting.jpg"), "mask": str(files / "mask.png"),
           "strength": STRENGTH, "size": SIZE, "color": COLOR, "model": "", "method": ""}
    painter = Painter(defaults | {"tile": TILE})
    return painter.request(row, load_image(row["content"]).rgb)


def gimp_request(files: Path, tmp_path: Path) -> api.StyleRequest:
    (tmp_path / "request.json").write_text(json.dumps({
        "method": "adain", "model": "", "strength": STRENGTH, "color": COLOR, "size": SIZE, "tile": TILE,
        "steps": DEFAULT_STEPS, "style": str(files / "painting.jpg")}))
    photo = load_image(files / "photo.jpg").rgb
    mask = torch.from_numpy(np.asarray(Image.open(files / "mask.png"), np.float32) / 255)[None, None]
    return painter.style_request(tmp_path, photo, mask)


def comfyui_request(files: Path, monkeypatch) -> api.StyleRequest:
    captured = {}

    def first_frame(content, make_request, progress=None, temporal="off"):
        captured["request"] = make_request(content.movedim(-1, 1)[:1], 0)
        return None

    monkeypatch.setattr(nodes, "_run", first_frame)
    image = load_image(files / "photo.jpg").rgb.movedim(1, -1)
    style = load_image(files / "painting.jpg").rgb.movedim(1, -1)
    mask = torch.from_numpy(np.asarray(Image.open(files / "mask.png"), np.float32) / 255)[None]
    model = nodes.load_style_model(registry.default_model("adain"))
    nodes.style_transfer(image, model, STRENGTH, SIZE, COLOR, "", style=style, mask=mask, tile=TILE)
    return captured["request"]


@pytest.mark.parametrize("door", ["cli", "python", "rest", "batch", "gimp", "comfyui"])
def test_every_door_builds_the_same_request_from_the_same_fields(door, files, expected, tmp_path, monkeypatch):
    build_in = {
        "cli": lambda: cli_request(files), "python": lambda: python_request(files), "rest": lambda: rest_request(files),
        "batch": lambda: batch_request(files), "gimp": lambda: gimp_request(files, tmp_path),
        "comfyui": lambda: comfyui_request(files, monkeypatch),
    }
    assert summary(build_in[door]()) == expected


def test_weighted_styles_mean_the_same_in_the_doors_that_mix_them(files):
    """CLI, Python and REST mix two styles 3:1 alike."""
    photo = load_image(files / "photo.jpg").rgb
    styles = [load_image(EXAMPLES / name).rgb for name in ("painting.jpg", "painting2.jpg")]
    wanted = summary(build(photo, Fields(method="fast", styles=styles, style_weights=[3, 1], size=SIZE)))
    args = cli_parser().parse_args(["stylize", str(files / "photo.jpg"), "--method", "fast", "--style",
                                    str(EXAMPLES / "painting.jpg"), "--style", str(EXAMPLES / "painting2.jpg"),
                                    "--style-weight", "3", "--style-weight", "1", "--size", str(SIZE)])
    assert summary(reading.request(args, photo, reading.fields(args, []))) == wanted
    assert summary(brushwork.painting.request(
        files / "photo.jpg", [EXAMPLES / "painting.jpg", EXAMPLES / "painting2.jpg"], method="fast",
        style_weights=[3, 1], size=SIZE)) == wanted
    uploads = [Upload("content", "photo.jpg", (files / "photo.jpg").read_bytes())] + [
        Upload("style", name, (EXAMPLES / name).read_bytes()) for name in ("painting.jpg", "painting2.jpg")]
    fields = {"method": "fast", "model": [], "style_weight": [3.0, 1.0], "strength": None, "color": "none",
              "color_when": "after", "size": SIZE, "tile": "auto", "steps": DEFAULT_STEPS, "seed": 0, "format": "png"}
    assert summary(style_request(Order(fields, uploads), Limits(), "cpu")[0]) == wanted


GIMP_PLUGIN = ROOT / "gimp_plugin" / "brushwork-style-transfer" / "brushwork-style-transfer.py"


def gimp_defaults() -> dict:
    """The GIMP dialog's defaults, read from the plug-in (which runs in GIMP's Python, without brushwork)."""
    source = GIMP_PLUGIN.read_text()
    found = {}
    for name in ("size", "tile", "steps"):
        match = re.search(rf'add_(?:int|double)_argument\("{name}",.*?,\s*([\d.]+),\s*([\d.]+),\s*([\d.]+), flags\)',
                          source, flags=re.DOTALL)
        found[name] = float(match.group(3))
    return found


def rest_defaults() -> dict:
    import inspect

    parameters = inspect.signature(order_form(Limits())).parameters
    return {name: parameters[name].default for name in ("size", "tile", "steps", "strength")}


def test_every_door_shows_the_same_defaults():
    """Size, tile and steps alike in every door, and each method's strength default the core's
    (ComfyUI's, as ComfyUI shows them, in ``tests/host/test_comfyui.py``)."""
    cli = cli_parser().parse_args(["stylize", "photo.jpg"])
    batch = cli_parser().parse_args(["batch", "in", "-o", "out"])
    table = {
        "cli": (cli.size, tile_label(cli.tile), cli.steps),
        "batch": (batch.size, tile_label(batch.tile), batch.steps),
        "rest": (rest_defaults()["size"], tile_label(rest_defaults()["tile"]), rest_defaults()["steps"]),
        "gimp": (int(gimp_defaults()["size"]), tile_label(int(gimp_defaults()["tile"])), int(gimp_defaults()["steps"])),
        "python": (DEFAULT_SIZE, tile_label("auto"), DEFAULT_STEPS),
    }
    assert set(table.values()) == {(DEFAULT_SIZE, "auto", DEFAULT_STEPS)}, table
    assert cli.strength is None and batch.strength is None and rest_defaults()["strength"] is None


def test_gimps_strength_slider_moves_to_each_methods_default():
    """The plug-in's own copy of the core's strengths (its Python has no brushwork), the one its dialog
    sets when the method changes and its default method starts from."""
    constants = {
        target.id: ast.literal_eval(node.value) for node in ast.parse(GIMP_PLUGIN.read_text()).body
        if isinstance(node, ast.Assign) for target in node.targets if isinstance(target, ast.Name)
        and target.id in ("DEFAULT_METHOD", "STRENGTH")
    }
    assert constants["STRENGTH"] == api.DEFAULT_STRENGTH
    assert 'add_double_argument("strength"' in GIMP_PLUGIN.read_text()
    assert re.search(r'STRENGTH\[DEFAULT_METHOD\], flags\)', GIMP_PLUGIN.read_text())


@pytest.mark.parametrize("value, side", [("auto", None), (0, None), ("0", None), ("off", 0), (256, 256), ("512", 512)])
def test_tile_means_auto_off_or_a_side_everywhere(value, side):
    assert tile_side(value) == side


@pytest.mark.parametrize("value, message", [("big", "tile must be auto, off or a number"),
                                            (64, "tile must be at least 256 pixels")])
def test_a_bad_tile_is_named(value, message):
    with pytest.raises(RequestError, match=message):
        tile_side(value)


@pytest.mark.parametrize("changes, message", [
    ({"method": "oil"}, "unknown method 'oil'"),
    ({"method": "feedforward"}, "feedforward paints with trained style models; style images are not used"),
    ({"method": "feedforward", "styles": []}, "feedforward needs a style model"),
    ({"styles": []}, "adain needs at least one style image"),
    ({"models": ["a", "b"]}, "adain takes one model, got 2"),
    ({"method": "gatys", "models": ["brushwork-adain"]}, "gatys paints with VGG19 alone and takes no model"),
    ({"style_weights": [1, 2]}, "2 style weights for 1 styles"),
    ({"size": -1}, "size must be 0"),
])
def test_the_rules_are_stated_once_with_the_same_words(photo, painting, changes, message):
    with pytest.raises(RequestError, match=re.escape(message)):
        build(photo, Fields(**({"styles": [painting]} | changes)))


def test_the_python_door_takes_arrays_and_pil_images_and_returns_a_picture(files):
    photo = np.asarray(Image.open(files / "photo.jpg"))
    painted = brushwork.stylize(photo, style=Image.open(files / "painting.jpg"), method="fast", size=SIZE)
    assert isinstance(painted, Image.Image) and max(painted.size) == SIZE and painted.mode == "RGB"
    pixels = np.asarray(painted, np.float32)
    original = np.asarray(Image.open(files / "photo.jpg").resize(painted.size), np.float32)
    assert 3 < np.abs(pixels - original).mean() < 120, "the painting is the photo, or noise"
    tensor = brushwork.stylize(files / "photo.jpg", style=files / "painting.jpg", method="fast", size=SIZE,
                               as_tensor=True)
    assert tensor.shape[:2] == (1, 3) and max(tensor.shape[-2:]) == SIZE
    buffer = io.BytesIO()
    painted.save(buffer, "PNG")
    assert np.abs(np.asarray(Image.open(buffer), np.float32) - tensor[0].permute(1, 2, 0).numpy() * 255).max() <= 1


@pytest.mark.parametrize("method, tile, label", [("fast", "auto", "frame"), ("fast", 256, "tile"),
                                                 ("gatys", "auto", "step")])
def test_progress_is_a_fraction_of_the_whole_job_with_a_label(painting, method, tile, label):
    """Two frames: whatever the method counts, the reports climb to the whole job, never past it."""
    reports = []
    photo = example("photo.jpg", 320)
    frames = torch.cat([photo, photo.flip(-1)])
    request = build(frames, Fields(method=method, styles=[painting], size=0, tile=tile, steps=4),
                    progress=reports.append, device="cpu")
    api.stylize(request)
    fractions = [report.fraction for report in reports]
    assert {report.label for report in reports} == {label}
    assert fractions == sorted(fractions) and fractions[-1] == 1.0 and 0 < fractions[0] < 1
