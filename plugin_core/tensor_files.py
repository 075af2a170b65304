"""Weight files as tensor dicts: read safely (never arbitrary unpickling), written atomically."""

from __future__ import annotations

import json
from pathlib import Path

import torch

from .errors import WeightsError
from .files import atomic_path


def read_tensors(path: str | Path, what: str = "weights") -> tuple[dict[str, torch.Tensor], dict[str, str]]:
    """``(tensors, metadata)`` from a ``.safetensors`` file or a ``torch.save``d dict of tensors.

    Pickles are opened with ``weights_only=True``: one that needs code to run is refused. Metadata
    comes from safetensors' header as written (strings as they are, other values as JSON); pickles
    have none.
    """
    path = Path(path)
    if not path.is_file():
        raise WeightsError(f"{what} file {path} does not exist")
    metadata: dict[str, str] = {}
    try:
        if path.suffix == ".safetensors":
            from safetensors import safe_open

            with safe_open(str(path), framework="pt") as handle:
                metadata = dict(handle.metadata() or {})
                state = {key: handle.get_tensor(key) for key in handle.keys()}  # noqa: SIM118 (not a dict)
        else:
            state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # corrupt, truncated, or a pickle that needs code execution
        raise WeightsError(f"{path} is not a readable {what} file: {_reason(exc)}") from None
    if not isinstance(state, dict) or not all(isinstance(v, torch.Tensor) for v in state.values()):
        raise WeightsError(f"{path} holds a {type(state).__name__} that is not a dict of tensors")
    return state, metadata


def _reason(error: Exception) -> str:
    """torch's long ``weights_only`` message reduced to what is wrong with the file."""
    text = str(error)
    if "allowed global" in text or "Unsupported global" in text:
        return "it is a pickle that would run code to load, which brushwork refuses"
    marker = "WeightsUnpickler error:"
    if marker in text:
        detail = text.split(marker, 1)[1].strip().splitlines()[0]
        return f"corrupt or not a weights file ({detail})"
    return text.splitlines()[0] if text else type(error).__name__


def write_tensors(path: str | Path, state: dict[str, torch.Tensor], metadata: dict[str, object]) -> Path:
    """Write ``state`` to a ``.safetensors`` file atomically; metadata values are stored as JSON."""
    from safetensors.torch import save_file

    path = Path(path)
    if path.suffix != ".safetensors":
        raise WeightsError(f"cannot write {path}: brushwork writes weights as .safetensors")
    header = {key: value if isinstance(value, str) else json.dumps(value) for key, value in metadata.items()}
    with atomic_path(path) as temporary:
        save_file({key: value.contiguous() for key, value in state.items()}, str(temporary), metadata=header)
    return path
