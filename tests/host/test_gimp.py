"""The GIMP filter in a real, headless GIMP 3, driven through the PDB in batch mode.

A Debian tree with GIMP is built once per suite (debootstrap ``--variant=minbase``, then ``apt-get
install gimp python3-numpy``) and kept as ``gimp-SUITE`` in ``BRUSHWORK_TEST_CACHE`` (default
``~/.cache/brushwork-tests``); ``BRUSHWORK_GIMP_SUITES`` lists the Debian suites to test in, comma
separated: trixie (GIMP 3.0, the default), forky (GIMP 3.2; a suite debootstrap has no script for is
made with sid's); CI tests both. This checkout, its virtual environment and the environment's base
interpreter are bind-mounted read-only into the tree at their own paths (and always unmounted
afterwards), the plug-in is installed with ``brushwork gimp install --gimp-dir``, and a batch script
runs the filter NONINTERACTIVE: Gram optimisation inside an elliptic selection, bad style files, a
16-bit grey layer in place, brushwork-adain whole and in tiles, an indexed image, and a long Gram run
that the test cancels the way GIMP's Cancel does.

Needs root (chroot, mounts). Under ``CI=true`` a missing requirement fails the test; elsewhere it
skips, saying why."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import pytest

from plugin_core import watermark

from ..conftest import EXAMPLES, ROOT
from ..scripts import training_data
from . import unavailable

SUITES = os.environ.get("BRUSHWORK_GIMP_SUITES", "trixie").split(",")
CACHE = Path(os.environ.get("BRUSHWORK_TEST_CACHE", Path.home() / ".cache" / "brushwork-tests"))
MIRROR = "http://deb.debian.org/debian"
PACKAGES = ("gimp", "python3-numpy", "python3-gi", "gir1.2-gimp-3.0")
READY = ".brushwork-ready"
ELLIPSE = (100, 50, 300, 200)
"""The selection: x, y, width, height of an ellipse on the 720x360 photo."""
BUILD_TIMEOUT_S = 1500
GIMP_TIMEOUT_S = 600
TILE = 256
CANCEL_STEPS = 5000
"""The long Gram run that the test cancels (its worker is told by these steps)."""
CANCEL_AFTER_S = 5
STOP_TIMEOUT_S = 60

DRIVER = r'''
import json
import gi
gi.require_version("Gimp", "3.0")
gi.require_version("Gegl", "0.4")
from gi.repository import Gegl, Gimp, Gio
import numpy as np

WORK = "{work}"


def pixels(drawable):
    width, height = drawable.get_width(), drawable.get_height()
    rectangle = Gegl.Rectangle.new(0, 0, width, height)
    raw = drawable.get_buffer().get(rectangle, 1.0, "R'G'B'A float", Gegl.AbyssPolicy.CLAMP)
    return np.frombuffer(raw, np.float32).reshape(height, width, 4)


image = Gimp.file_load(Gimp.RunMode.NONINTERACTIVE, Gio.File.new_for_path(WORK + "/photo.jpg"))
original = image.get_layers()[0]
np.save(WORK + "/before.npy", pixels(original))
image.select_ellipse(Gimp.ChannelOps.REPLACE, *{ellipse})
selection = image.get_selection()
np.save(WORK + "/selection.npy", pixels(selection)[..., 0])
procedure = Gimp.get_pdb().lookup_procedure("plug-in-brushwork-style-transfer")
config = procedure.create_config()
config.set_property("run-mode", Gimp.RunMode.NONINTERACTIVE)
config.set_property("image", image)
config.set_core_object_array("drawables", [original])
config.set_property("method", "gatys")
config.set_property("size", 160)
config.set_property("steps", 12)
image.clean_all()
summary = {{}}
for name in ("painting.jpg", "missing.jpg", "empty.jpg"):
    config.set_property("style-file", Gio.File.new_for_path(WORK + "/" + name))
    result = procedure.run(config)
    summary[name] = [result.index(0).value_nick, result.index(1) if result.length() > 1 else ""]
    if name == "painting.jpg":
        layers = image.get_layers()
        summary["layers"] = [layer.get_name() for layer in layers]
        summary["dirty after painting"] = image.is_dirty()
        summary["offsets"] = list(layers[0].get_offsets()[1:])
        np.save(WORK + "/new.npy", pixels(layers[0]))
np.save(WORK + "/after.npy", pixels(original))

grey = image.duplicate()
grey.remove_layer(grey.get_layers()[0])
grey.convert_grayscale()
grey.convert_precision(Gimp.Precision.U16_NON_LINEAR)
layer = grey.get_layers()[0]
layer.add_alpha()
Gimp.Selection.none(grey)
np.save(WORK + "/grey_before.npy", pixels(layer))
config.set_property("image", grey)
config.set_core_object_array("drawables", [layer])
config.set_property("style-file", Gio.File.new_for_path(WORK + "/painting.jpg"))
config.set_property("new-layer", False)
result = procedure.run(config)
summary["grey"] = [result.index(0).value_nick, len(grey.get_layers()), grey.get_precision().value_nick,
                   layer.is_gray(), layer.has_alpha()]
np.save(WORK + "/grey_after.npy", pixels(layer))
grey.delete()

image.delete()

image = Gimp.file_load(Gimp.RunMode.NONINTERACTIVE, Gio.File.new_for_path(WORK + "/photo.jpg"))
config.set_property("image", image)
config.set_core_object_array("drawables", image.get_layers())
config.set_property("use-selection", False)
config.set_property("new-layer", True)
config.set_property("method", "adain")
config.set_property("size", 512)
for tile in (0, {tile}):
    config.set_property("tile", tile)
    result = procedure.run(config)
    summary[f"tile {{tile}}"] = [result.index(0).value_nick, result.index(1) if result.length() > 1 else ""]
    np.save(WORK + f"/tile_{{tile}}.npy", pixels(image.get_layers()[-2]))  # the new layer: right above

indexed = image.duplicate()
indexed.convert_indexed(Gimp.ConvertDitherType.NONE, Gimp.ConvertPaletteType.GENERATE, 64, False, True, "")
config.set_property("image", indexed)
config.set_core_object_array("drawables", [indexed.get_layers()[-1]])
result = procedure.run(config)
summary["indexed"] = [result.index(0).value_nick, result.index(1) if result.length() > 1 else ""]
indexed.delete()
image.delete()

image = Gimp.file_load(Gimp.RunMode.NONINTERACTIVE, Gio.File.new_for_path(WORK + "/photo.jpg"))
layer = image.get_layers()[0]
image.clean_all()
config.set_property("image", image)
config.set_core_object_array("drawables", [layer])
config.set_property("method", "gatys")
config.set_property("tile", 0)
config.set_property("steps", {cancel_steps})
result = procedure.run(config)  # the test cancels it
summary["cancelled"] = [result.index(0).value_nick, [l.get_name() for l in image.get_layers()], image.is_dirty()]
np.save(WORK + "/cancelled.npy", pixels(layer))
image.delete()
json.dump(summary, open(WORK + "/summary.json", "w"))
'''


def _in_tree(tree: Path, *command: str, **environment: str) -> list[str]:
    variables = [f"{key}={value}" for key, value in {"PATH": "/usr/sbin:/usr/bin:/sbin:/bin", **environment}.items()]
    return ["chroot", str(tree), "/usr/bin/env", "-i", *variables, *command]


def _chroot(tree: Path, *command: str, timeout: int, **environment: str) -> subprocess.CompletedProcess:
    return subprocess.run(_in_tree(tree, *command, **environment), capture_output=True, text=True, timeout=timeout)


def build_tree(suite: str) -> Path:
    """The Debian tree of ``suite`` with GIMP: reused when complete, else built beside it and moved into place."""
    tree = CACHE / f"gimp-{suite}"
    if (tree / READY).is_file():
        return tree
    tree.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{tree.name}-", dir=tree.parent))
    try:
        apt = training_data.apt_options(staging / "apt")  # a private apt state: the host's is not touched
        subprocess.run(["apt-get", *apt, "update"], check=True, capture_output=True)
        subprocess.run(["apt-get", *apt, "download", "debootstrap/trixie"], cwd=staging, check=True,
                       capture_output=True)
        deb = next(staging.glob("debootstrap_*.deb"))
        subprocess.run(["dpkg-deb", "-x", str(deb), str(staging / "debootstrap")], check=True)
        root = staging / "root"
        scripts = staging / "debootstrap/usr/share/debootstrap"
        script = scripts / "scripts" / suite if (scripts / "scripts" / suite).is_file() else scripts / "scripts/sid"
        subprocess.run([str(staging / "debootstrap/usr/sbin/debootstrap"), "--variant=minbase", suite, str(root),
                        MIRROR, str(script)], check=True, capture_output=True, timeout=BUILD_TIMEOUT_S,
                       env={**os.environ, "DEBOOTSTRAP_DIR": str(scripts)})
        for command in (
            ("apt-get", "-o", "Acquire::Check-Valid-Until=false", "update"),
            ("apt-get", "install", "-y", "--no-install-recommends", *PACKAGES),
        ):
            done = _chroot(root, *command, timeout=BUILD_TIMEOUT_S, DEBIAN_FRONTEND="noninteractive")
            assert done.returncode == 0, f"{' '.join(command)} failed in the {suite} tree:\n{done.stdout[-2000:]}"
        (root / READY).write_text(suite)
        shutil.rmtree(tree, ignore_errors=True)
        root.rename(tree)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return tree


def _mount_points(extra: tuple[Path, ...] = ()) -> list[Path]:
    """This checkout, the virtual environment and its base interpreter (and ``extra`` folders), outermost
    first, none twice; and /proc and /sys, which a desktop has (torch reads the CPU's features there)."""
    points = []
    folders = {ROOT, Path(sys.prefix).resolve(), Path(sys.base_prefix).resolve(), *extra}
    for path in sorted(folders, key=lambda p: len(p.parts)):
        if not any(path.is_relative_to(point) for point in points):
            points.append(path)
    return [*points, Path("/proc"), Path("/sys")]


@contextmanager
def mounted(tree: Path, extra: tuple[Path, ...] = ()):
    """``tree`` with ``_mount_points(extra)`` bind-mounted read-only at their own paths, always unmounted after."""
    mounted = []
    try:
        for point in _mount_points(extra):
            target = tree / point.relative_to("/")
            target.mkdir(parents=True, exist_ok=True)
            subprocess.run(["mount", "--bind", str(point), str(target)], check=True)
            mounted.append(target)
            subprocess.run(["mount", "-o", "remount,bind,ro", str(target)], check=True)
        yield tree
    finally:
        for target in reversed(mounted):
            if subprocess.run(["umount", str(target)]).returncode != 0:
                subprocess.run(["umount", "-l", str(target)], check=True)


@pytest.fixture(scope="module", params=SUITES)
def gimp_tree(request):
    """The tree of each suite, mounted (``mounted``)."""
    if os.geteuid() != 0:
        unavailable("it needs root (chroot and bind mounts)")
    for tool in ("chroot", "mount", "apt-get", "dpkg-deb"):
        if shutil.which(tool) is None:
            unavailable(f"{tool} is not installed")
    with mounted(build_tree(request.param)) as tree:
        yield tree


def start_gimp(tree: Path, work: Path, driver: str, log, python: str = sys.executable) -> subprocess.Popen:
    """GIMP's console in ``tree`` running ``driver`` (Python, in batch mode) with the plug-in installed by
    ``python``'s brushwork into a fresh profile in ``work``, a folder inside the tree."""
    inside = "/" + str(work.relative_to(tree))
    (work / "profile").mkdir()
    subprocess.run([python, "-m", "brushwork.cli", "gimp", "install", "--gimp-dir", str(work / "profile")],
                   check=True, capture_output=True, cwd="/")  # "/": python's own brushwork, not the one here
    (work / "driver.py").write_text(driver)
    return subprocess.Popen(_in_tree(
        tree, "gimp-console", "-i", "--batch-interpreter=python-fu-eval",
        "-b", f"exec(open('{inside}/driver.py').read())", "--quit",
        HOME=inside, GIMP3_DIRECTORY=f"{inside}/profile",
    ), stdout=log, stderr=subprocess.STDOUT)


@pytest.fixture(scope="module")
def run(gimp_tree):
    """Install the plug-in into a fresh profile, run the driver in GIMP, return its summary and folder."""
    work = Path(tempfile.mkdtemp(prefix="brushwork-gimp-", dir=gimp_tree / "tmp"))
    inside = "/" + str(work.relative_to(gimp_tree))
    try:
        for name in ("photo.jpg", "painting.jpg"):
            shutil.copy(EXAMPLES / name, work / name)
        (work / "empty.jpg").touch()
        with open(work / "gimp.log", "w") as log:
            gimp = start_gimp(gimp_tree, work, DRIVER.format(work=inside, ellipse=ELLIPSE, tile=TILE,
                                                             cancel_steps=CANCEL_STEPS), log)
            try:
                cancel = _cancel_the_long_run(gimp_tree, gimp)
                gimp.wait(timeout=GIMP_TIMEOUT_S)
            finally:
                gimp.kill()
        output = (work / "gimp.log").read_text()
        assert (work / "summary.json").is_file(), f"GIMP did not finish the script:\n{output}"
        summary = {**json.loads((work / "summary.json").read_text()), "cancel": cancel}
        version = _chroot(gimp_tree, "gimp-console", "--version", timeout=60).stdout.strip()
        print(f"{version}: {summary}")
        yield summary, work
    finally:
        shutil.rmtree(work, ignore_errors=True)


def _workers(tree: Path):
    """``(pid, folder)`` of every brushwork worker running in ``tree``."""
    for entry in Path("/proc").glob("[0-9]*"):
        try:
            command = (entry / "cmdline").read_bytes().decode().split("\0")
        except OSError:
            continue
        if "gimp_plugin.worker" in command:
            yield int(entry.name), tree / command[command.index("gimp_plugin.worker") + 1].lstrip("/")


def _status(pid: int) -> dict[str, str]:
    """``/proc/PID/status`` as a dict (empty once the process is gone)."""
    try:
        lines = Path(f"/proc/{pid}/status").read_text().splitlines()
    except OSError:
        return {}
    return dict(line.split(":\t", 1) for line in lines if ":\t" in line)


def _running(pid: int) -> bool:
    return _status(pid).get("State", "Z").split()[0] not in ("Z", "X")


def _cancel_the_long_run(tree: Path, gimp: subprocess.Popen) -> dict:
    """Find the worker of the long Gram run, let it work, then do what GIMP's Cancel does (GIMP's
    ``gimp_plug_in_close``: the plug-in process is killed), and see the worker stop and clean up."""
    deadline = time.monotonic() + GIMP_TIMEOUT_S
    while gimp.poll() is None and time.monotonic() < deadline:
        for pid, folder in _workers(tree):
            try:
                steps = json.loads((folder / "request.json").read_text())["steps"]
            except (OSError, ValueError, KeyError):
                continue
            if steps != CANCEL_STEPS:
                continue
            time.sleep(CANCEL_AFTER_S)
            working = _running(pid)
            os.kill(int(_status(pid)["PPid"]), signal.SIGKILL)
            killed = time.monotonic()
            while _running(pid) and time.monotonic() - killed < STOP_TIMEOUT_S:
                time.sleep(0.1)
            return {"working when cancelled": working, "stopped after s": round(time.monotonic() - killed, 1),
                    "running": _running(pid), "folder left": folder.exists()}
        time.sleep(0.2)
    return {}


def test_the_filter_paints_a_new_layer_inside_the_selection(run):
    summary, work = run
    assert summary["painting.jpg"][0] == "success", summary["painting.jpg"][1]
    assert summary["layers"] == ["Background (style transfer)", "Background"]
    x, y, width, height = ELLIPSE
    assert summary["offsets"] == [x, y]
    new, before = np.load(work / "new.npy"), np.load(work / "before.npy")
    selection = np.load(work / "selection.npy")[y : y + height, x : x + width]
    assert new.shape == (height, width, 4)
    under = before[y : y + height, x : x + width]
    outside, inside = selection == 0, selection == 1
    assert outside.sum() > 1000 and inside.sum() > 1000
    assert np.array_equal(new[outside], under[outside]), "pixels outside the selection changed"
    assert np.abs(new[inside] - under[inside])[:, :3].mean() > 0.02, "the selection was hardly stylized"
    assert np.array_equal(np.load(work / "after.npy"), before), "the original layer changed"


def test_broken_requests_come_back_as_errors_with_reasons(run):
    summary, _ = run
    status, message = summary["missing.jpg"]
    assert status == "calling-error" and "style-file" in message
    status, message = summary["empty.jpg"]
    assert status == "execution-error" and message.startswith("brushwork: style /") and message.endswith(
        "/empty.jpg is empty"
    )


def test_a_16_bit_grey_layer_with_alpha_is_replaced_in_place(run):
    summary, work = run
    assert summary["grey"] == ["success", 1, "u16-non-linear", True, True]
    before, after = np.load(work / "grey_before.npy"), np.load(work / "grey_after.npy")
    assert np.array_equal(after[..., 3], before[..., 3])
    assert np.allclose(after[..., 0], after[..., 1]) and np.abs(after - before)[..., :3].mean() > 0.02


def test_tiles_paint_like_the_whole_image(run):
    summary, work = run
    assert summary["tile 0"] == summary[f"tile {TILE}"] == ["success", ""], summary
    whole, tiled = np.load(work / "tile_0.npy"), np.load(work / f"tile_{TILE}.npy")
    assert whole.shape == tiled.shape == (360, 720, 4)
    difference = np.abs(whole - tiled)[..., :3].mean()
    assert 0 < difference < 0.03, f"tiles of {TILE} px differ by {difference:.4f} from the whole image"


def test_the_painted_layer_carries_the_watermark(run):
    _, work = run
    painted = np.load(work / "tile_0.npy")[..., :3].transpose(2, 0, 1)
    assert watermark.detect(watermark.luminance(painted)).payload == watermark.brushwork_payload()


def test_an_indexed_image_gets_a_clear_message(run):
    summary, _ = run
    status, message = summary["indexed"]
    assert status == "execution-error"
    assert message == "brushwork: indexed images are not supported: convert with Image > Mode > RGB first"


def test_cancel_stops_the_worker_and_leaves_the_image_untouched(run):
    summary, work = run
    assert summary["dirty after painting"]  # dirtiness shows a change here
    cancel = summary["cancel"]
    assert cancel["working when cancelled"], cancel
    assert not cancel["running"] and cancel["stopped after s"] < 10, cancel
    assert not cancel["folder left"], "the worker left its request folder behind"
    status, layers, dirty = summary["cancelled"]
    assert status != "success" and layers == ["Background"] and not dirty
    assert np.array_equal(np.load(work / "cancelled.npy"), np.load(work / "before.npy"))
