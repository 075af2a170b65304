"""Progress reports: what long work hands to a host's progress callback as it goes.

One unit everywhere: a report says how much of the whole job is done (``fraction``, 0..1) and what
it counts (``label``: ``step`` of a Gram optimisation over every scale, tile and frame, ``tile`` of
a large image over every frame, or ``frame``), so no door needs to know the method.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import torch


@dataclass(frozen=True)
class Progress:
    """``step`` of ``total`` ``label`` s of the whole job are done; ``losses`` by name; ``image`` a
    preview ``[1,3,H,W]`` or None."""

    step: int
    total: int
    losses: dict[str, float] = field(default_factory=dict)
    image: torch.Tensor | None = field(default=None, repr=False)
    label: str = "step"

    @property
    def fraction(self) -> float:
        """The share of the whole job done, 0..1."""
        return self.step / max(1, self.total)
