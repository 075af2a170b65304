"""Where weights are found, and the manifest of weights brushwork knows by name.

A model is asked for by path or by name. Names are looked up, file by file, in these folders, first
match wins:

1. the folders in ``BRUSHWORK_MODELS`` (separated like ``PATH``);
2. folders a host adds with :func:`add_host_dir` (ComfyUI's ``models/style_transfer``);
3. the project's own ``models/``;
4. the user cache, ``$XDG_CACHE_HOME/brushwork`` (``~/.cache/brushwork``), where downloads go.

Names in ``models/manifest.toml`` (sha256, licence, citation) are brushwork's own models, shipped
in ``models/`` (no URL), or others' that can be downloaded (a URL); any other name is a weight
file's stem (``mystyle`` for ``mystyle.safetensors``) in those folders.
"""

from __future__ import annotations

import hashlib
import importlib.util
import os
import shutil
import sys
import tempfile
import urllib.error
import urllib.request
import warnings
import zipfile
from dataclasses import dataclass
from pathlib import Path

from tqdm import tqdm

from .errors import WeightsError

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - Python 3.10
    import tomli as tomllib


def _project_models() -> Path:
    """The project's ``models/``: installed as the package data ``brushwork_models``, or in this checkout."""
    spec = importlib.util.find_spec("brushwork_models")
    if spec is not None and spec.submodule_search_locations:
        return Path(next(iter(spec.submodule_search_locations)))
    return Path(__file__).resolve().parents[1] / "models"


PROJECT_MODELS = _project_models()
MANIFEST = PROJECT_MODELS / "manifest.toml"
ENVIRONMENT_VARIABLE = "BRUSHWORK_MODELS"
FAMILIES = ("adain", "feedforward", "fast")
SUFFIXES = (".safetensors", ".pth", ".pt", ".bin", ".ckpt")
"""Weight files brushwork reads (:mod:`plugin_core.tensor_files`)."""
CHUNK = 1 << 20
TIMEOUT_S = 60

_host_dirs: list[Path] = []


@dataclass(frozen=True)
class ModelFile:
    """One weight file; ``url`` is empty for a file that ships in brushwork's ``models/``."""

    name: str
    url: str = ""
    sha256: str = ""
    archive: str | None = None


@dataclass(frozen=True)
class KnownModel:
    """``files``: the weights; ``graphs``: prepared graphs that ship beside them (INT8 ONNX,
    :mod:`plugin_core.onnx_int8`), checked as the weights are."""

    name: str
    family: str
    files: tuple[ModelFile, ...]
    graphs: tuple[ModelFile, ...] = ()
    description: str = ""
    homepage: str = ""
    licence: str = ""
    citation: str = ""


def read_manifest(path: Path = MANIFEST) -> dict[str, KnownModel]:
    """``{name: KnownModel}`` from a manifest file (empty when there is none)."""
    if not path.is_file():
        return {}
    try:
        entries = tomllib.loads(path.read_text(encoding="utf-8")).get("model", [])
        models = {}
        for entry in entries:
            files = tuple(ModelFile(**file) for file in entry.pop("files"))
            graphs = tuple(ModelFile(**graph) for graph in entry.pop("graphs", []))
            models[entry["name"]] = KnownModel(files=files, graphs=graphs, **entry)
    except (tomllib.TOMLDecodeError, KeyError, TypeError) as error:
        raise WeightsError(f"model manifest {path} is malformed: {error}") from None
    for model in models.values():
        if model.family not in FAMILIES:
            raise WeightsError(f"model manifest {path}: {model.name} has unknown family {model.family!r}")
    return models


def cache_dir() -> Path:
    """The user cache: ``$XDG_CACHE_HOME/brushwork``, else ``~/.cache/brushwork``."""
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "brushwork"


def add_host_dir(path: str | Path) -> None:
    """Let a host add a folder of weights (searched after ``BRUSHWORK_MODELS``)."""
    path = Path(path)
    if path not in _host_dirs:
        _host_dirs.append(path)


def search_dirs() -> list[Path]:
    """The folders searched for weights, in order."""
    listed = [Path(part) for part in os.environ.get(ENVIRONMENT_VARIABLE, "").split(os.pathsep) if part]
    return [*listed, *_host_dirs, PROJECT_MODELS, cache_dir()]


def find_file(filename: str) -> Path | None:
    """The first ``filename`` in the search folders."""
    for folder in search_dirs():
        if (folder / filename).is_file():
            return folder / filename
    return None


def _is_path(spec: str | Path) -> bool:
    text = str(spec)
    return isinstance(spec, Path) or os.sep in text or "/" in text or text.endswith(SUFFIXES) or Path(text).exists()


def resolve(spec: str | Path, manifest: dict[str, KnownModel] | None = None) -> list[Path]:
    """The weight files of ``spec``: a path (a file, or a folder of them), a manifest name, or a stem."""
    manifest = read_manifest() if manifest is None else manifest
    if _is_path(spec):
        path = Path(spec).expanduser()
        if path.is_dir():
            files = sorted(p for p in path.iterdir() if p.suffix in SUFFIXES and p.is_file())
            if not files:
                raise WeightsError(f"model folder {path} holds no weight files ({', '.join(SUFFIXES)})")
            return files
        if not path.is_file():
            raise WeightsError(f"model file {path} does not exist")
        return [path]
    if spec in manifest:
        return [_find_known(manifest[spec], file) for file in manifest[spec].files]
    for suffix in SUFFIXES:
        found = find_file(f"{spec}{suffix}")
        if found is not None:
            return [found]
    known = ", ".join(sorted(manifest)) or "none"
    raise WeightsError(
        f"unknown model {spec!r}: not a file, not a known name ({known}), and no {spec}.safetensors or "
        f"{spec}.pth in {_folders()}"
    )


def _folders() -> str:
    return ", ".join(str(folder) for folder in search_dirs())


def _unzip_hint(file: ModelFile) -> str:
    return f" (a zip: take {file.name} out of it)" if file.archive else ""


def _find_known(model: KnownModel, file: ModelFile) -> Path:
    found = find_file(file.name)
    if found is None and not file.url:
        raise WeightsError(f"model {model.name!r} ships with brushwork, but {file.name} is in none of {_folders()}: "
                           f"reinstall brushwork")
    if found is None:
        raise WeightsError(
            f"model {model.name!r} is not installed: {file.name} is in none of {_folders()}. "
            f"Run `brushwork models download {model.name}`, or download {file.url} by hand"
            f"{_unzip_hint(file)} and put {file.name} in {cache_dir()}"
        )
    return found


def installed(model: KnownModel) -> list[Path] | None:
    """Where each of ``model``'s files is installed, or None while any is missing."""
    found = [find_file(file.name) for file in model.files]
    return None if None in found else found


def default_model(family: str, manifest: dict[str, KnownModel] | None = None) -> str:
    """The first installed model of ``family`` in manifest order."""
    manifest = read_manifest() if manifest is None else manifest
    candidates = [model for model in manifest.values() if model.family == family]
    for model in candidates:
        if installed(model):
            return model.name
    names = ", ".join(model.name for model in candidates) or "none known"
    raise WeightsError(
        f"no {family} model is installed (known: {names}). Download one with `brushwork models download NAME`, "
        f"put its files in {cache_dir()}, or pass a weights file as the model"
    )


def sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while block := handle.read(CHUNK):
            digest.update(block)
    return digest.hexdigest()


def _stream(url: str, folder: Path, label: str, quiet: bool) -> Path:
    """Download ``url`` into a temporary file in ``folder`` (removed again on any failure)."""
    handle, temporary = tempfile.mkstemp(dir=folder, prefix=".download-", suffix=".part")
    try:
        with os.fdopen(handle, "wb") as out, urllib.request.urlopen(url, timeout=TIMEOUT_S) as response:
            length = response.headers.get("Content-Length")
            with tqdm(total=int(length) if length else None, unit="B", unit_scale=True, desc=label,
                      disable=quiet, leave=False) as bar:
                while block := response.read(CHUNK):
                    out.write(block)
                    bar.update(len(block))
    except (urllib.error.URLError, OSError, ValueError) as error:
        os.unlink(temporary)
        reason = getattr(error, "reason", None) or error
        raise WeightsError(f"could not download {url}: {reason}") from None
    except BaseException:
        os.unlink(temporary)
        raise
    return Path(temporary)


def _extract(archive: Path, member: str, folder: Path) -> Path:
    """Copy the zip member whose file name is ``member`` (in any folder) to a temporary file."""
    try:
        with zipfile.ZipFile(archive) as bundle:
            entries = [entry for entry in bundle.namelist() if Path(entry).name == member]
            if not entries:
                raise WeightsError(f"the downloaded archive holds no {member}")
            handle, temporary = tempfile.mkstemp(dir=folder, prefix=".extract-", suffix=".part")
            try:
                with os.fdopen(handle, "wb") as out, bundle.open(entries[0]) as source:
                    shutil.copyfileobj(source, out, CHUNK)
            except BaseException:
                os.unlink(temporary)
                raise
    except zipfile.BadZipFile:
        raise WeightsError(f"the download meant to hold {member} is not a zip archive") from None
    return Path(temporary)


def download(name: str, quiet: bool = False, manifest: dict[str, KnownModel] | None = None) -> list[Path]:
    """Fetch a known model's missing files into the cache: streamed, checked, moved in atomically.

    A file whose checksum does not match is deleted and nothing is kept. Files without a pinned
    checksum are kept with a warning that prints theirs.
    """
    manifest = read_manifest() if manifest is None else manifest
    if name not in manifest:
        raise WeightsError(f"unknown model {name!r}; known: {', '.join(sorted(manifest)) or 'none'}")
    folder = cache_dir()
    folder.mkdir(parents=True, exist_ok=True)
    paths, archives = [], {}
    try:
        for file in manifest[name].files:
            if not file.url:  # shipped with brushwork: nothing to download
                paths.append(_find_known(manifest[name], file))
                continue
            present = find_file(file.name)
            if present is not None and (not file.sha256 or sha256(present) == file.sha256):
                paths.append(present)
                continue
            try:
                if file.archive:
                    if file.url not in archives:
                        archives[file.url] = _stream(file.url, folder, file.url.rsplit("/", 1)[-1], quiet)
                    temporary = _extract(archives[file.url], file.name, folder)
                else:
                    temporary = _stream(file.url, folder, file.name, quiet)
            except WeightsError as error:
                raise WeightsError(
                    f"{error}. Offline? Download it by hand{_unzip_hint(file)} and put {file.name} in {folder}, "
                    f"or in a folder listed in {ENVIRONMENT_VARIABLE}"
                ) from None
            paths.append(_keep(temporary, file, folder))
    finally:
        for archive in archives.values():
            archive.unlink(missing_ok=True)
    return paths


def _keep(temporary: Path, file: ModelFile, folder: Path) -> Path:
    digest = sha256(temporary)
    if file.sha256 and digest != file.sha256:
        temporary.unlink()
        raise WeightsError(
            f"{file.name} from {file.url} has sha256 {digest}, the manifest expects {file.sha256}; it was not kept"
        )
    if not file.sha256:
        warnings.warn(f"no sha256 is recorded for {file.name}; the downloaded file has {digest}", stacklevel=3)
    target = folder / file.name
    os.chmod(temporary, 0o644)
    os.replace(temporary, target)
    return target


@dataclass(frozen=True)
class Check:
    model: str
    file: str
    path: Path | None
    status: str
    """``ok``, ``mismatch``, ``unpinned`` or ``missing``."""
    detail: str = ""


def verify(names: list[str] | None = None, manifest: dict[str, KnownModel] | None = None) -> list[Check]:
    """Compare each known file found in the search folders with its pinned sha256."""
    manifest = read_manifest() if manifest is None else manifest
    unknown = [name for name in names or [] if name not in manifest]
    if unknown:
        raise WeightsError(f"unknown model(s) {', '.join(unknown)}; known: {', '.join(sorted(manifest))}")
    checks = []
    for model in (manifest[name] for name in names or manifest):
        for file in (*model.files, *model.graphs):
            path = find_file(file.name)
            if path is None:
                checks.append(Check(model.name, file.name, None, "missing"))
                continue
            digest = sha256(path)
            if not file.sha256:
                checks.append(Check(model.name, file.name, path, "unpinned", digest))
            elif digest == file.sha256:
                checks.append(Check(model.name, file.name, path, "ok"))
            else:
                checks.append(Check(model.name, file.name, path, "mismatch", f"expected {file.sha256}, got {digest}"))
    return checks


def other_files(manifest: dict[str, KnownModel] | None = None) -> list[Path]:
    """Weight files in the search folders that the manifest does not name (users' own models)."""
    manifest = read_manifest() if manifest is None else manifest
    known = {file.name for model in manifest.values() for file in model.files}
    found = []
    for folder in search_dirs():
        if folder.is_dir():
            found += sorted(p for p in folder.iterdir() if p.suffix in SUFFIXES and p.name not in known)
    return found
