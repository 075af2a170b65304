"""What the nodes need from ComfyUI, in one place: devices, interruption, progress, model folders
and memory management. Without ComfyUI (unit tests, plain Python) each falls back to a plain
equivalent: the CPU, no interruption, no progress bar, brushwork's own model folders."""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from pathlib import Path

import torch

from plugin_core import registry
from plugin_core.image import tensor_to_pil
from plugin_core.loaders import LoadedModel, detect_family, load_model
from plugin_core.networks.vgg import VGG19, load_vgg19
from plugin_core.registry import SUFFIXES

try:  # inside ComfyUI
    import comfy.model_management as model_management
    import comfy.model_patcher
    import comfy.utils
    import folder_paths
except ImportError:  # plain Python: the unit tests
    model_management = folder_paths = None

MODEL_FOLDER = "style_transfer"
"""ComfyUI's ``models/style_transfer``: where users put style weights."""
PREVIEW_SIZE = 512


def register_model_folder() -> None:
    """Add ``models/style_transfer`` to ComfyUI's folders and to brushwork's search path."""
    if folder_paths is None:
        return
    folder = str(Path(folder_paths.models_dir) / MODEL_FOLDER)
    folder_paths.add_model_folder_path(MODEL_FOLDER, folder, is_default=True)
    paths, extensions = folder_paths.folder_names_and_paths[MODEL_FOLDER]
    extensions.update(SUFFIXES)
    for path in paths:
        registry.add_host_dir(path)


def model_choices() -> list[str]:
    """brushwork's shipped models by name, then the files in ComfyUI's style-transfer folders, then
    the other installed models by name (those not already listed as ComfyUI's files)."""
    files = sorted(set(folder_paths.get_filename_list(MODEL_FOLDER))) if folder_paths is not None else []
    listed = {Path(file).name for file in files}
    manifest = registry.read_manifest()
    installed = [
        name for name, model in manifest.items()
        if all(registry.find_file(f.name) for f in model.files) and not {f.name for f in model.files} <= listed
    ]
    shipped = [name for name in installed if all(not f.url for f in manifest[name].files)]
    own = sorted({path.stem for path in registry.other_files(manifest) if path.name not in listed})
    return shipped + files + [name for name in installed if name not in shipped] + own


def model_path(choice: str) -> str:
    """A combo choice as something brushwork's registry resolves: a full path, or a model name."""
    if folder_paths is not None:
        full = folder_paths.get_full_path(MODEL_FOLDER, choice)
        if full is not None:
            return full
    return choice


def device() -> torch.device:
    return model_management.get_torch_device() if model_management is not None else torch.device("cpu")


def output_device() -> torch.device:
    return model_management.intermediate_device() if model_management is not None else torch.device("cpu")


def interrupted() -> bool:
    """Whether the user pressed Cancel (checked between steps and frames)."""
    return model_management is not None and model_management.processing_interrupted()


def raise_interrupt() -> None:
    """Hand a cancellation back to ComfyUI as its own interruption."""
    if model_management is not None:
        model_management.throw_exception_if_processing_interrupted()


class Progress:
    """ComfyUI's progress bar (with previews), or nothing outside ComfyUI."""

    def __init__(self, total: int):
        self.bar = comfy.utils.ProgressBar(total) if model_management is not None else None

    def update(self, done: int, total: int, preview: torch.Tensor | None = None) -> None:
        if self.bar is None:
            return
        image = None if preview is None else ("JPEG", tensor_to_pil(preview[:1].cpu()), PREVIEW_SIZE)
        self.bar.update_absolute(done, total, image)


@dataclass(frozen=True)
class HostModel:
    """A ``BRUSHWORK_MODEL``: a loaded model and, inside ComfyUI, the patcher through which its memory
    manager moves the network onto the GPU, and back to the offload device when others need the room."""

    loaded: LoadedModel
    patcher: object | None = None


def _patcher(network: torch.nn.Module):
    return comfy.model_patcher.CoreModelPatcher(
        network, load_device=device(), offload_device=model_management.unet_offload_device()
    )


def load(choice: str) -> HostModel:
    """The model of a combo choice. Inside ComfyUI its network is ComfyUI's alone, not kept in
    brushwork's cache: ComfyUI's node cache holds the loader's output, its memory manager moves the
    network through the one patcher made here, and network and patcher go together when the output is
    dropped (a network outliving its patcher is what ComfyUI reports as a memory leak)."""
    spec = model_path(choice)
    if model_management is None:
        return HostModel(load_model(spec, detect_family(spec)))
    loaded = load_model(spec, detect_family(spec), cache=False)
    return HostModel(loaded, _patcher(loaded.network))


def ready(model: HostModel) -> LoadedModel:
    """The model, on ComfyUI's device."""
    if model.patcher is not None:
        model_management.load_models_gpu([model.patcher])
    return model.loaded


@cache
def _gram_model() -> tuple[VGG19, object]:
    vgg = load_vgg19()
    return vgg, _patcher(vgg)


def gram_network() -> VGG19 | None:
    """The Gram method's VGG19 on ComfyUI's device: one for the process, which ComfyUI's memory manager
    moves like its own models (outside ComfyUI: None, brushwork's shared one)."""
    if model_management is None:
        return None
    vgg, patcher = _gram_model()
    model_management.load_models_gpu([patcher])
    return vgg
