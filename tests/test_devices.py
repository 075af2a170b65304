"""Devices and compute precision."""

import pytest
import torch

from plugin_core.devices import cpu_has_native_bf16, resolve_device, resolve_dtype
from plugin_core.errors import RequestError


def test_precision_names():
    cpu = torch.device("cpu")
    assert resolve_dtype("float32", cpu) == torch.float32 and resolve_dtype("bfloat16", cpu) == torch.bfloat16
    assert resolve_dtype("auto", cpu) == (torch.bfloat16 if cpu_has_native_bf16() else torch.float32)
    with pytest.raises(RequestError, match="unknown precision 'double'"):
        resolve_dtype("double", cpu)


def test_devices():
    assert resolve_device("cpu") == torch.device("cpu")
    with pytest.raises(RequestError, match="unknown device 'gpu0'"):
        resolve_device("gpu0")
    if not torch.cuda.is_available():
        with pytest.raises(RequestError, match="CUDA is not available"):
            resolve_device("cuda")
