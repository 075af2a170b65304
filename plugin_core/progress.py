"""Progress reports: what long work hands to a host's progress callback after each step."""

from __future__ import annotations

from dataclasses import dataclass, field

import torch


@dataclass(frozen=True)
class Progress:
    """Step ``step`` of ``total`` is done; ``losses`` by name; ``image`` a preview ``[1,3,H,W]`` or None."""

    step: int
    total: int
    losses: dict[str, float] = field(default_factory=dict)
    image: torch.Tensor | None = field(default=None, repr=False)
