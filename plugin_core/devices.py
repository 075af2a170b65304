"""Where and in which number format the networks run."""

from __future__ import annotations

import sys
from functools import lru_cache
from pathlib import Path

import torch

from .controls import INT8, PAINT_PRECISIONS
from .errors import RequestError

NATIVE_BF16_FLAGS = ("amx_bf16", "avx512_bf16")


def resolve_device(name: str) -> torch.device:
    """``auto`` picks CUDA when present; asking for an absent CUDA is an error, not a fallback."""
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        device = torch.device(name)
    except RuntimeError:
        raise RequestError(f"unknown device {name!r}: use auto, cpu or cuda[:N]") from None
    if device.type == "cuda":
        if not torch.cuda.is_available():
            raise RequestError(f"device {name!r} asked for, but CUDA is not available to this torch")
        if device.index is not None and device.index >= torch.cuda.device_count():
            raise RequestError(f"device {name!r} asked for, but only {torch.cuda.device_count()} CUDA device(s) exist")
    elif device.type != "cpu":
        raise RequestError(f"device {name!r} is not supported: use auto, cpu or cuda[:N]")
    return device


@lru_cache(maxsize=1)
def cpu_has_native_bf16() -> bool:
    """Whether this CPU multiplies bfloat16 in hardware (Linux: read from /proc/cpuinfo)."""
    cpuinfo = Path("/proc/cpuinfo")
    if not sys.platform.startswith("linux") or not cpuinfo.is_file():
        return False
    flags = next((line for line in cpuinfo.read_text().splitlines() if line.startswith("flags")), "").split()
    return any(flag in flags for flag in NATIVE_BF16_FLAGS)


def resolve_dtype(precision: str, device: torch.device) -> torch.dtype:
    """The compute dtype of the networks (for Gram optimisation: of VGG19, under autocast); with
    ``int8`` graphs, of all that runs around them."""
    if precision not in PAINT_PRECISIONS:
        raise RequestError(f"unknown precision {precision!r}: use one of {', '.join(PAINT_PRECISIONS)}")
    if precision == INT8:
        return torch.float32
    if precision == "auto":
        if device.type == "cuda":
            return torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16
        return torch.bfloat16 if cpu_has_native_bf16() else torch.float32
    return getattr(torch, precision)
