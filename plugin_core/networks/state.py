"""Loading a state dict into a network with every key and shape checked, errors worded for users."""

from __future__ import annotations

import torch
from torch import nn

from ..errors import WeightsError

SHOWN_KEYS = 4


def _listing(keys: list[str]) -> str:
    return ", ".join(keys[:SHOWN_KEYS]) + (" ..." if len(keys) > SHOWN_KEYS else "")


def load_checked(net: nn.Module, state: dict[str, torch.Tensor], source: str, kind: str) -> nn.Module:
    """Copy ``state`` into ``net`` (as float32) and return it frozen for inference; a missing or
    unexpected key or a wrong shape raises a :class:`WeightsError` saying the file is not ``kind``."""
    expected = net.state_dict()
    missing = sorted(set(expected) - set(state))
    unexpected = sorted(set(state) - set(expected))
    found = (("missing", missing), ("unexpected", unexpected))
    problems = [f"{label} {_listing(keys)}" for label, keys in found if keys]
    if problems:
        raise WeightsError(f"{source} is not {kind}: {'; '.join(problems)}")
    for key, value in state.items():
        if value.shape != expected[key].shape:
            needed = tuple(expected[key].shape)
            raise WeightsError(f"{source}: {key} has shape {tuple(value.shape)}, {kind} needs {needed}")
    net.load_state_dict({key: value.float() for key, value in state.items()})
    return net.eval().requires_grad_(False)
