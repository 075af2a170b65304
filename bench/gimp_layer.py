"""Click to layer in a real GIMP 3: how long the filter takes from its call to the painted layer.

    sudo .venv/bin/python bench/gimp_layer.py [--method adain] [--size 1024] [--repeats 5]
                                              [--suite trixie] [--python PY ...]

GIMP 3 runs headless in the Debian tree the host tests build (``tests/host/test_gimp.py``; needs
root). A batch script opens the example photo enlarged to ``--size`` on its long side and calls
the filter (``--method``, working size ``--size``, every other control at its default, the mark
included) on the whole layer; the time from the call to its return, when the new layer is in the
image, is what a user waits after clicking OK. Each call starts the plug-in and brushwork's worker
as new processes, as GIMP does, so start-up is in it.

Each ``--python`` is a brushwork environment to compare (default: this one); its plug-in is
installed from it and its worker runs its code. To compare with an older brushwork, give an
environment whose ``sys.path`` finds that checkout first, for example::

    git worktree add /tmp/before COMMIT
    .venv/bin/python -m venv --without-pip /tmp/before-venv
    printf '/tmp/before\\n%s\\n' "$(.venv/bin/python -c 'import site; print(site.getsitepackages()[0])')" \\
        > "$(/tmp/before-venv/bin/python -c 'import site; print(site.getsitepackages()[0])')/before.pth"

Sessions of the environments alternate, one painting each, ``--repeats`` rounds after one warm-up
round, so a busy moment of the machine falls on every row alike; the median is reported.
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

from PIL import Image

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.host.test_gimp import GIMP_TIMEOUT_S, _chroot, build_tree, mounted, start_gimp  # noqa: E402

DRIVER = r'''
import json
import time
import gi
gi.require_version("Gimp", "3.0")
from gi.repository import Gimp, Gio

WORK = "{work}"
image = Gimp.file_load(Gimp.RunMode.NONINTERACTIVE, Gio.File.new_for_path(WORK + "/photo.png"))
procedure = Gimp.get_pdb().lookup_procedure("plug-in-brushwork-style-transfer")
config = procedure.create_config()
config.set_property("run-mode", Gimp.RunMode.NONINTERACTIVE)
config.set_property("image", image)
config.set_core_object_array("drawables", image.get_layers())
config.set_property("style-file", Gio.File.new_for_path(WORK + "/painting.jpg"))
config.set_property("method", "{method}")
config.set_property("size", {size})
start = time.perf_counter()
result = procedure.run(config)
seconds = time.perf_counter() - start
json.dump({{"status": result.index(0).value_nick, "seconds": seconds, "layers": len(image.get_layers()),
           "message": result.index(1) if result.length() > 1 else ""}}, open(WORK + "/result.json", "w"))
'''


def code_of(python: str) -> tuple[Path, Path, str]:
    """``(prefix, checkout, commit)`` of the brushwork that ``python`` imports."""
    probe = "import sys, pathlib, gimp_plugin; print(sys.prefix); print(pathlib.Path(gimp_plugin.__file__).parents[1])"
    prefix, checkout = subprocess.run([python, "-c", probe], check=True, capture_output=True, text=True,
                                      cwd="/").stdout.split()  # not here, where this checkout would come first
    commit = subprocess.run(["git", "-C", checkout, "describe", "--always", "--dirty"], capture_output=True,
                            text=True).stdout.strip() or "?"
    return Path(prefix).resolve(), Path(checkout).resolve(), commit


def click_to_layer(tree: Path, python: str, method: str, size: int) -> float:
    """Seconds from the filter's call to its new layer, in one GIMP session."""
    work = Path(tempfile.mkdtemp(prefix="brushwork-bench-", dir=tree / "tmp"))
    try:
        photo = Image.open(ROOT / "examples" / "photo.jpg")
        scale = size / max(photo.size)
        photo.resize((round(photo.width * scale), round(photo.height * scale)), Image.LANCZOS).save(work / "photo.png")
        shutil.copy(ROOT / "examples" / "painting.jpg", work / "painting.jpg")
        driver = DRIVER.format(work="/" + str(work.relative_to(tree)), method=method, size=size)
        with open(work / "gimp.log", "w") as log:
            gimp = start_gimp(tree, work, driver, log, python)
            try:
                gimp.wait(timeout=GIMP_TIMEOUT_S)
            finally:
                gimp.kill()
        if not (work / "result.json").is_file():
            raise SystemExit(f"GIMP did not finish the script:\n{(work / 'gimp.log').read_text()[-3000:]}")
        result = json.loads((work / "result.json").read_text())
        if result["status"] != "success" or result["layers"] != 2:
            raise SystemExit(f"the filter did not paint a layer: {result}")
        return result["seconds"]
    finally:
        shutil.rmtree(work, ignore_errors=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--method", default="adain")
    parser.add_argument("--size", type=int, default=1024)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--suite", default="trixie")
    parser.add_argument("--python", nargs="+", default=[sys.executable])
    args = parser.parse_args()
    args.python = [str(Path(python).absolute()) for python in args.python]  # they run elsewhere than here
    codes = {python: code_of(python) for python in args.python}
    extra = tuple(folder for prefix, checkout, _ in codes.values() for folder in (prefix, checkout))
    times: dict[str, list[float]] = {python: [] for python in args.python}
    with mounted(build_tree(args.suite), extra) as tree:
        version = _chroot(tree, "gimp-console", "--version", timeout=60).stdout.strip()
        for round_ in range(args.repeats + 1):
            for python in args.python:
                seconds = click_to_layer(tree, python, args.method, args.size)
                if round_:  # the first round warms the file cache
                    times[python].append(seconds)
    print(f"{version}, --method {args.method} at {args.size} px, median of {args.repeats}\n")
    print("| brushwork (commit) | click to layer, s |\n|---|---|")
    for python, seconds in times.items():
        print(f"| {codes[python][2]} ({python}) | {statistics.median(seconds):.2f} |")


if __name__ == "__main__":
    main()
