"""The node pack in a real ComfyUI: every node declared as saved workflows know it (on ComfyUI's
current node schema), every example workflow run through /prompt.

Runs when ``COMFYUI_DIR`` names a ComfyUI checkout with its own environment (its Python is
``COMFYUI_PYTHON``, else ``COMFYUI_DIR/.venv/bin/python``) that has brushwork's requirements
installed (``../shared/hosts/comfyui/setup.sh`` makes one; ``.ci/run`` uses it); skipped otherwise,
failed under ``CI=true``. ComfyUI starts headless on the CPU with a temporary base folder:
this checkout linked into its ``custom_nodes``, the example images in its ``input``, and weight
files in other projects' layouts (random values: their plumbing is tested, not their painting) in
its ``models/style_transfer`` and in ``BRUSHWORK_MODELS``; the workflows paint with brushwork's
shipped models.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import time
import urllib.error
import urllib.request
from pathlib import Path

import av
import numpy as np
import pytest
import torch
from PIL import Image

from plugin_core import api, provenance
from plugin_core.controls import DEFAULT_SIZE, DEFAULT_STEPS, tile_label
from plugin_core.video.flow import warping_error

from .. import clips, scripts
from ..conftest import EXAMPLES, ROOT
from ..weights import adain_pair, fast_neural_style_state
from . import unavailable

WORKFLOWS = Path(__file__).parent / "workflows"
comfy_workflows = scripts.load("comfy_workflows")
EDITOR_WORKFLOWS = ROOT / "example_workflows"
DECLARED = {  # node ID: (required inputs, optional inputs) in order, as saved workflows hold them: never to change
    "BrushworkLoadStyleModel": (["model_name"], []),
    "BrushworkStyleTransferAdaIN": (["image", "model", "strength", "size", "color", "style_weights"],
                                    ["style", "mask", "regions", "tile", "temporal", "watermark"]),
    "BrushworkStyleTransferFeedForward": (["image", "model", "strength", "size", "color"],
                                          ["mask", "tile", "temporal", "watermark"]),
    "BrushworkNeuralStyle": (["image", "steps", "size", "strength", "tv_weight", "optimizer", "init", "seed", "color",
                              "style_weights"], ["style", "mask", "regions", "tile", "watermark"]),
    "BrushworkStyleRegions": (["style", "mask", "weight"], ["regions"]),
    "BrushworkColorMatch": (["image", "reference", "method", "strength"], ["mask", "reference_mask"]),
    "BrushworkVerifyWatermark": (["image"], []),
}
ADDED_SINCE_SAVED = {"watermark": True}
"""Inputs appended after the example workflows were saved, with the values the editor gives them."""
INPUTS = ("photo.jpg", "painting.jpg", "painting2.jpg", "sky_mask.png", "land_mask.png")
PHOTO_SIZE = (720, 360)
EXPECTED = {  # workflow: (images, their size)
    "adain": (1, PHOTO_SIZE),
    "feedforward": (1, PHOTO_SIZE),
    "regions": (1, PHOTO_SIZE),
    "gram_color": (1, (256, 128)),
    "frames": (3, PHOTO_SIZE),
}
START_TIMEOUT_S = 180
RUN_TIMEOUT_S = 300

COMFYUI_DIR = os.environ.get("COMFYUI_DIR")


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _get(url: str):
    with urllib.request.urlopen(url, timeout=10) as response:
        return json.load(response)


def _post(url: str, body: dict):
    request = urllib.request.Request(url, json.dumps(body).encode(), {"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=10) as response:
        body = response.read()
    return json.loads(body) if body else {}


@pytest.fixture(scope="module")
def comfyui(tmp_path_factory):
    """``(url, output folder)`` of a ComfyUI started for these tests, stopped by its pid afterwards."""
    if not COMFYUI_DIR:
        unavailable("COMFYUI_DIR is not set: no real ComfyUI to test the node pack in (see the README)")
    checkout = Path(COMFYUI_DIR)
    python = Path(os.environ.get("COMFYUI_PYTHON", checkout / ".venv" / "bin" / "python"))
    if not (checkout / "main.py").is_file() or not python.is_file():
        unavailable(f"COMFYUI_DIR={checkout} has no main.py or no Python at {python} (set COMFYUI_PYTHON)")
    base = tmp_path_factory.mktemp("comfyui")
    (base / "custom_nodes").mkdir()
    (base / "custom_nodes" / "brushwork").symlink_to(ROOT, target_is_directory=True)
    (base / "input").mkdir()
    for name in INPUTS:
        shutil.copy(EXAMPLES / name, base / "input" / name)
    clips.write(base / "input" / "pan.mp4", clips.pan())
    (base / "models" / "style_transfer").mkdir(parents=True)
    torch.save(fast_neural_style_state(1), base / "models" / "style_transfer" / "candy.pth")
    own = tmp_path_factory.mktemp("brushwork-models")
    adain_pair(own)
    port = _free_port()
    environment = {**os.environ, "BRUSHWORK_MODELS": str(own), "XDG_CACHE_HOME": str(base / "cache")}
    log = open(base / "comfyui.log", "w")
    server = subprocess.Popen(
        [str(python), "main.py", "--cpu", "--listen", "127.0.0.1", "--port", str(port), "--base-directory", str(base),
         "--disable-api-nodes", "--disable-auto-launch"],
        cwd=checkout, env=environment, stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + START_TIMEOUT_S
        while True:
            try:
                _get(f"{url}/system_stats")
                break
            except (urllib.error.URLError, ConnectionError):
                if server.poll() is not None or time.monotonic() > deadline:
                    pytest.fail(f"ComfyUI did not start: {(base / 'comfyui.log').read_text()[-3000:]}")
                time.sleep(1)
        yield url, base / "output", base / "comfyui.log"
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        try:
            server.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(server.pid, signal.SIGKILL)
            server.wait()
        log.close()


def _run(url: str, workflow: dict) -> dict:
    """Queue ``workflow`` and wait for its history entry."""
    prompt_id = _post(f"{url}/prompt", {"prompt": workflow, "client_id": "brushwork-tests"})["prompt_id"]
    deadline = time.monotonic() + RUN_TIMEOUT_S
    while time.monotonic() < deadline:
        history = _get(f"{url}/history/{prompt_id}")
        if prompt_id in history and history[prompt_id]["status"].get("completed") is not None:
            return history[prompt_id]
        time.sleep(0.5)
    pytest.fail(f"workflow did not finish in {RUN_TIMEOUT_S} s")


def test_every_node_is_declared_as_saved_workflows_know_it(comfyui):
    url, _, log = comfyui
    info = _get(f"{url}/object_info")
    for node, (required, optional) in DECLARED.items():
        assert node in info, f"not registered: {node}\n{log.read_text()[-3000:]}"
        declared = info[node]
        assert declared["input_order"] == {"required": required, **({"optional": optional} if optional else {})}
        assert declared["category"] == "image/style transfer" and declared["description"] and declared["display_name"]
        for group in declared["input"].values():
            for name, (_, options) in group.items():
                assert options.get("tooltip"), f"{node}.{name} has no tooltip"
    choices = info["BrushworkLoadStyleModel"]["input"]["required"]["model_name"][1]["options"]
    assert {"candy.pth", "adain-pytorch", "brushwork-adain", "brushwork-fast", "waves"} <= set(choices)
    assert choices.index("brushwork-adain") < choices.index("adain-pytorch")  # the shipped models come first


def test_the_nodes_show_the_cores_defaults(comfyui):
    url, _, _ = comfyui
    info = _get(f"{url}/object_info")

    def default(node: str, name: str):
        inputs = info[node]["input"]
        return {**inputs["required"], **inputs.get("optional", {})}[name][1]["default"]

    for node, method in (("BrushworkStyleTransferAdaIN", "adain"), ("BrushworkStyleTransferFeedForward", "feedforward"),
                         ("BrushworkNeuralStyle", "gatys")):
        assert default(node, "size") == DEFAULT_SIZE and tile_label(default(node, "tile")) == "auto", node
        assert default(node, "strength") == api.DEFAULT_STRENGTH[method], node
    assert default("BrushworkNeuralStyle", "steps") == DEFAULT_STEPS


@pytest.mark.parametrize("name", sorted(path.stem for path in EDITOR_WORKFLOWS.glob("*.json")))
def test_the_editors_workflows_keep_their_values_in_place(comfyui, name):
    """A workflow saved by ComfyUI's editor holds its widgets' values by position: the example
    workflows, saved when the nodes were declared the V1 way, are what ComfyUI's declarations of the
    nodes now make of their API copies, value for value."""
    url, _, _ = comfyui
    info = _get(f"{url}/object_info")
    made = comfy_workflows.to_graph(json.loads((WORKFLOWS / f"{name}.json").read_text()), info)
    saved = json.loads((EDITOR_WORKFLOWS / f"{name}.json").read_text())

    def appended(node_type: str) -> list:
        declared = info[node_type]["input_order"].get("optional", [])
        return [ADDED_SINCE_SAVED[input] for input in declared if input in ADDED_SINCE_SAVED]

    assert {node["id"]: (node["type"], node["widgets_values"]) for node in made["nodes"]} == {
        node["id"]: (node["type"], node["widgets_values"] + appended(node["type"])) for node in saved["nodes"]}


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_example_workflow_runs(comfyui, name):
    url, output, log = comfyui
    entry = _run(url, json.loads((WORKFLOWS / f"{name}.json").read_text()))
    assert entry["status"]["status_str"] == "success", f"{entry['status']}\n{log.read_text()[-3000:]}"
    images = [image for node in entry["outputs"].values() for image in node.get("images", [])]
    count, size = EXPECTED[name]
    assert len(images) == count
    photo = Image.open(EXAMPLES / "photo.jpg").convert("RGB").resize(size)
    for image in images:
        result = Image.open(output / image["subfolder"] / image["filename"]).convert("RGB")
        assert result.size == size
        difference = np.abs(np.asarray(result, float) - np.asarray(photo, float)).mean()
        assert difference > 10, f"{image['filename']} is hardly stylized ({difference:.1f} levels)"
        assert provenance.inspect(output / image["subfolder"] / image["filename"]).mark is not None, image


def test_a_clip_comes_out_painted_and_steady(comfyui):
    """The video workflow: a clip's frames through the AdaIN node with temporal flow, saved as WebM."""
    url, output, log = comfyui
    entry = _run(url, json.loads((WORKFLOWS / "video.json").read_text()))
    assert entry["status"]["status_str"] == "success", f"{entry['status']}\n{log.read_text()[-3000:]}"
    saved = [item for node in entry["outputs"].values() for item in node.get("images", [])]
    with av.open(str(output / saved[0]["subfolder"] / saved[0]["filename"])) as container:
        frames = [torch.from_numpy(frame.to_ndarray(format="rgb24")).permute(2, 0, 1)[None].float() / 255
                  for frame in container.decode(video=0)]
    source = clips.pan()
    assert len(frames) == len(source) and frames[0].shape[-2:] == source[0].shape[-2:]
    assert (frames[0] - source[0]).abs().mean() > 0.04  # painted
    assert warping_error(frames, source) < 0.0002  # per-frame AdaIN measures 0.0003 on this clip


def test_a_wrong_model_gives_a_readable_error(comfyui):
    url, _, _ = comfyui
    workflow = json.loads((WORKFLOWS / "adain.json").read_text())
    workflow["3"]["inputs"]["model_name"] = "candy.pth"
    entry = _run(url, workflow)
    assert entry["status"]["status_str"] == "error"
    errors = [message[1] for message in entry["status"]["messages"] if message[0] == "execution_error"]
    message = "candy.pth is a feedforward model: use it with Style Transfer (Feed-forward)"
    assert message in errors[0]["exception_message"]


def test_cancel_stops_the_gram_optimisation_between_steps(comfyui):
    url, _, _ = comfyui
    workflow = json.loads((WORKFLOWS / "gram_color.json").read_text())
    workflow["3"]["inputs"]["steps"] = 5000
    started = time.monotonic()
    prompt_id = _post(f"{url}/prompt", {"prompt": workflow, "client_id": "brushwork-tests"})["prompt_id"]
    time.sleep(3)
    _post(f"{url}/interrupt", {})
    while prompt_id not in (history := _get(f"{url}/history/{prompt_id}")):
        assert time.monotonic() - started < 60, "the interrupt was not honoured within a minute"
        time.sleep(0.5)
    events = [message[0] for message in history[prompt_id]["status"]["messages"]]
    assert "execution_interrupted" in events


def test_models_go_with_their_patchers(comfyui):
    """Switching models, unloading everything (ComfyUI's /free) and loading again leaves ComfyUI's memory
    manager no dead patcher whose network lives on: its log has no memory-leak line."""
    url, _, log = comfyui
    adain = json.loads((WORKFLOWS / "adain.json").read_text())
    gram = json.loads((WORKFLOWS / "gram_color.json").read_text())
    for model in ("adain-pytorch", "brushwork-fast", "brushwork-adain"):
        adain["3"]["inputs"]["model_name"] = model
        assert _run(url, adain)["status"]["status_str"] == "success"
    _post(f"{url}/free", {"unload_models": True, "free_memory": True})
    for workflow in (gram, adain):
        assert _run(url, workflow)["status"]["status_str"] == "success"
    leaks = [line for line in log.read_text().splitlines() if "memory leak" in line]
    assert not leaks, "\n".join(leaks)
