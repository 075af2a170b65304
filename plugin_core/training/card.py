"""Model cards: what a trained network is, what it learnt from, and how it was made.

The same fields go into the ``.safetensors`` metadata (each value JSON) and a Markdown file beside it.
"""

from __future__ import annotations

import json
import platform
from datetime import datetime, timezone
from pathlib import Path

import torch

from .. import __version__
from ..files import atomic_path

CARD_FIELDS = (
    "name", "family", "architecture", "parameters", "steps", "batch", "crop", "learning_rate", "seed",
    "final_losses", "training_seconds", "data", "data_licence", "command", "phases", "hardware", "date", "brushwork",
    "licence",
)
FREE = frozenset({"public-domain", "CC0-1.0"})
"""Licences that ask nothing of the weights."""
ATTRIBUTION = frozenset({"CC-BY-4.0", "MIT"})
"""Licences that ask for credit (the card's data sources give it)."""
GPL3_COMPATIBLE = frozenset({"GPL-2+", "GPL-3+", "LGPL-2+", "LGPL-2.1+", "LGPL-3", "LGPL-3+", "CC-BY-SA-4.0",
                             "CC-BY-SA-3.0+"})
"""Share-alike licences that GPL-3.0-or-later honours (GPL-2+ allows version 3; the LGPL lets a work
be conveyed under the GPL; Creative Commons declared BY-SA 4.0 one-way compatible with GPLv3, and
"3.0 or later" allows 4.0; FSF counts CC BY 4.0 compatible too). GPL-2 and GPL-3 without "or
later" are not here: GPL-2-only cannot be combined with GPLv3, and GPL-3-only would bind the weights
to version 3 alone."""
LINEAGE_FIELDS = ("name", "steps", "training_seconds", "phases", "hardware", "licence")
STEP_RANGE = " (steps "
"""How the hardware field names the steps each machine ran, e.g. ``CPU x86_64 (2 threads), torch
2.13.0+cpu (steps 0-1500)``."""
ALTERNATIVES = " or "
"""A licence offered as ``A or B`` may be taken under either."""


def _usable_as(licence: str) -> str | None:
    """The one of :data:`FREE`, :data:`ATTRIBUTION` or :data:`GPL3_COMPATIBLE` that ``licence`` (or the
    least demanding of its alternatives) can be taken under, or ``None``."""
    for known in (FREE, ATTRIBUTION, GPL3_COMPATIBLE):
        for alternative in licence.split(ALTERNATIVES):
            if alternative.strip() in known:
                return alternative.strip()
    return None


def hardware(device: torch.device) -> str:
    if device.type == "cuda":
        return f"{torch.cuda.get_device_name(device)}, torch {torch.__version__}"
    cpu = platform.processor() or platform.machine()
    return f"CPU {cpu} ({torch.get_num_threads()} threads), torch {torch.__version__}"


def _final_losses(rows: list[dict[str, object]]) -> dict[str, float]:
    if not rows:
        return {}
    return {key: float(value) for key, value in rows[-1].items() if key not in ("step", "lr", "seconds")}


def _data_licence(data: dict[str, object]) -> str:
    """One line naming each image set's licences, e.g. ``content: public-domain x209, CC0-1.0 x18``."""
    parts = []
    for role, description in data.items():
        if isinstance(description, dict) and "licences" in description:
            licences = description["licences"]
            text = licences if isinstance(licences, str) else ", ".join(f"{k} x{v}" for k, v in licences.items())
            parts.append(f"{role}: {text}")
    return "; ".join(parts)


def inherited_licence(card_licence: str) -> str:
    """A model's card licence as a data licence: what a model it taught, or one started from its
    weights, inherits."""
    for weights, data in (("GPL-3.0-or-later", "GPL-3+"), ("MIT", "MIT")):
        if card_licence.startswith(weights):
            return data
    return card_licence or "unknown"


def weights_licence(data: dict[str, object]) -> str:
    """The licence the weights can carry given their training images' licences: MIT when every image
    is free or asks only for credit, GPL-3.0-or-later when share-alike terms are among them, and
    ``undetermined`` (with the reason) for a licence this table does not know or cannot combine."""
    given = set()
    for description in data.values():
        if isinstance(description, dict) and isinstance(description.get("licences"), dict):
            given |= set(description["licences"])
    unknown = {licence for licence in given if _usable_as(licence) is None}
    licences = {_usable_as(licence) for licence in given} - {None}
    if unknown or not given:
        return f"undetermined: the training images' licences include {', '.join(sorted(unknown)) or 'unknown ones'}"
    if licences & GPL3_COMPATIBLE:
        return "GPL-3.0-or-later (share-alike training images; credit: see data)"
    return "MIT" + (" (credit the training images' authors: see data)" if licences & ATTRIBUTION else "")


def lineage(card: dict[str, str]) -> dict[str, object] | None:
    """What a run started from an exported model carries on from the model's card (metadata as
    written): its name, steps, seconds, phases, hardware and licence; ``None`` without such a card."""
    if not all(key in card for key in LINEAGE_FIELDS):
        return None
    return {"name": card["name"], "steps": int(card["steps"]), "training_seconds": float(card["training_seconds"]),
            "phases": json.loads(card["phases"]), "hardware": card["hardware"], "licence": card["licence"]}


def model_card(name, task, settings, steps, seconds, rows, phases, device, earlier=None) -> dict[str, object]:
    """Every field of ``CARD_FIELDS`` for a trained ``task`` network; ``phases``: the commands the run
    went through, each from the step it took over (``command`` is the last).

    ``earlier``: the :func:`lineage` of the model the run started from. The card then describes the
    whole: steps, seconds and phases follow on from the earlier model's, the hardware says which
    steps ran where, and the earlier weights count as data under their licence.
    """
    data = task.describe()
    machine = hardware(device)
    if earlier is not None:
        before = earlier["steps"]
        data["init"] = {"model": earlier["name"], "steps": before,
                        "licences": {inherited_licence(earlier["licence"]): 1}}
        phases = earlier["phases"] + [{**phase, "from_step": before + phase["from_step"]} for phase in phases]
        ranged = earlier["hardware"] if STEP_RANGE in earlier["hardware"] else \
            f"{earlier['hardware']}{STEP_RANGE}0-{before})"
        machine = f"{ranged}; {machine}{STEP_RANGE}{before}-{before + steps})"
        steps, seconds = before + steps, earlier["training_seconds"] + seconds
    return {
        "name": name, "family": task.family, "architecture": type(task.network).__name__,
        "parameters": sum(p.numel() for p in task.network.parameters()), "steps": steps, "batch": settings.batch,
        "crop": settings.size, "learning_rate": settings.learning_rate, "seed": settings.seed,
        "final_losses": _final_losses(rows), "training_seconds": round(seconds, 1), "data": data,
        "data_licence": _data_licence(data), "command": phases[-1]["command"], "phases": phases,
        "hardware": machine,
        "date": datetime.now(timezone.utc).strftime("%Y-%m-%d"), "brushwork": __version__,
        "licence": weights_licence(data),
    }


def write_card(path: Path, card: dict[str, object]) -> Path:
    """The card as Markdown: a title, then one row per field (nested values as JSON)."""
    lines = [f"# {card['name']} ({card['family']})", "", "| field | value |", "|---|---|"]
    for key in CARD_FIELDS:
        value = card[key]
        text = value if isinstance(value, str) else json.dumps(value)
        lines.append(f"| {key} | {str(text).replace('|', '/')} |")
    with atomic_path(path) as temporary:
        temporary.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path
