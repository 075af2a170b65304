"""The training loop every family shares: resumable, logged, exported.

A run lives in one folder:

    checkpoint.pt      network, optimiser, step and random state, written atomically every N steps
    losses.csv         step, learning rate, seconds, then each loss averaged over the last ``log_every`` steps
                       (rewritten at every row; a resumed run drops the rows after its checkpoint)
    losses.png         the loss curves (log scale)
    NAME.safetensors   the exported network in float16, with its model card in the metadata
    NAME.md            the model card

Started again on the same folder, a run resumes from its checkpoint: the next step draws the
same crops and gives the same update as a run that never stopped. A new run can start its network
from an exported model (``init``: a run's ``NAME.safetensors``, when its checkpoint is gone); its
card then counts the exported model's steps, seconds and phases before its own.
The learning rate decays as ``lr_t = lr / (1 + decay · t)`` (Huang & Belongie's schedule); with
``max_grad_norm`` the gradient is scaled down to that L2 norm where it is longer (a steep batch then
cannot throw a long run off course).
The forward passes run under autocast with channels-last tensors where the hardware computes a
low precision natively (bfloat16 on CPUs with AMX or AVX512-BF16 and on CUDA, float16 with
gradient scaling on CUDA); statistics, Gram matrices and losses stay float32, and
``precision="float32"`` is the exact path.
"""

from __future__ import annotations

import csv
import json
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Protocol

import torch
from torch import nn
from tqdm import tqdm

from ..devices import resolve_device, resolve_dtype
from ..errors import RequestError, WeightsError
from ..files import atomic_path
from ..networks.fast_arbitrary import FastArbitraryNet, is_fast_arbitrary, load_fast_arbitrary, widen
from ..networks.state import load_checked
from ..tensor_files import read_tensors, write_tensors
from .card import lineage, model_card, write_card
from .plot import plot_losses

CHECKPOINT = "checkpoint.pt"
LOSS_LOG = "losses.csv"
LOSS_PLOT = "losses.png"
LOG_COLUMNS = ("step", "lr", "seconds")


@dataclass(frozen=True)
class TrainSettings:
    """How long and how: ``size`` is the side of the square training crops."""

    steps: int = 20000
    batch: int = 8
    size: int = 256
    learning_rate: float = 1e-4
    lr_decay: float = 5e-5
    max_grad_norm: float | None = None
    checkpoint_every: int = 500
    log_every: int = 10
    seed: int = 0
    device: str = "auto"
    precision: str = "auto"

    def __post_init__(self):
        for name in ("steps", "batch", "size", "checkpoint_every", "log_every"):
            if getattr(self, name) < 1:
                raise RequestError(f"{name.replace('_', ' ')} must be at least 1, got {getattr(self, name)}")
        if self.checkpoint_every % self.log_every:
            raise RequestError(f"checkpoint every ({self.checkpoint_every}) must be a multiple of log every "
                               f"({self.log_every}) steps")
        if self.learning_rate <= 0 or self.lr_decay < 0:
            raise RequestError(f"learning rate must be > 0 and decay >= 0, got {self.learning_rate}, {self.lr_decay}")
        if self.max_grad_norm is not None and not self.max_grad_norm > 0:
            raise RequestError(f"max grad norm must be > 0, got {self.max_grad_norm}")


class Task(Protocol):
    """One family's training: its network, its batch of losses, and what its model card says."""

    family: str
    network: nn.Module

    def to(self, device: torch.device, channels_last: bool) -> None:
        """Move the network, the frozen VGG, the images and any fixed targets to ``device``."""

    def losses(self, generator: torch.Generator, settings: TrainSettings) -> dict[str, torch.Tensor]:
        """The weighted losses of one batch, ``total`` among them (the one minimised)."""

    def describe(self) -> dict[str, object]:
        """Data and loss weights, for the model card."""


def _atomic_save(state: dict, path: Path) -> None:
    with atomic_path(path) as temporary:
        torch.save(state, temporary)


def _read_log(path: Path, up_to: int) -> list[dict[str, str]]:
    """The log rows of steps ``<= up_to`` (a resumed run drops what came after its checkpoint)."""
    if not path.is_file():
        return []
    with open(path, newline="") as handle:
        return [row for row in csv.DictReader(handle) if int(row["step"]) <= up_to]


def _write_log(path: Path, rows: list[dict[str, object]]) -> None:
    columns = list(LOG_COLUMNS) + sorted({key for row in rows for key in row} - set(LOG_COLUMNS))
    with atomic_path(path) as temporary, open(temporary, "w", newline="") as out:
        writer = csv.DictWriter(out, fieldnames=columns)
        writer.writeheader()
        writer.writerows(rows)


class _Run:
    """The mutable state of a run, saved and restored as one checkpoint."""

    def __init__(self, task: Task, settings: TrainSettings, device: torch.device, dtype: torch.dtype):
        self.task, self.settings, self.device = task, settings, device
        self.autocast = dtype != torch.float32
        self.dtype = dtype
        self.optimizer = torch.optim.Adam(task.network.parameters(), lr=settings.learning_rate)
        self.scaler = torch.amp.GradScaler("cuda", enabled=self.autocast and dtype == torch.float16)
        self.generator = torch.Generator().manual_seed(settings.seed)
        self.step = 0
        self.seconds = 0.0
        self.phases: list[dict[str, object]] = []
        """``{"from_step", "command"}`` each time the run went on under another command (a new recipe)."""
        self.earlier: dict[str, object] | None = None
        """The :func:`~.card.lineage` of the exported model the run started from (``init``)."""

    def begin(self, command: str) -> None:
        """Record ``command`` as a new phase unless it is the one the run is already under."""
        if not self.phases or self.phases[-1]["command"] != command:
            self.phases.append({"from_step": self.step, "command": command})

    def state(self) -> dict:
        return {
            "family": self.task.family, "step": self.step, "seconds": self.seconds, "phases": json.dumps(self.phases),
            "earlier": json.dumps(self.earlier), "network": self.task.network.state_dict(),
            "optimizer": self.optimizer.state_dict(), "scaler": self.scaler.state_dict(),
            "generator": self.generator.get_state(),
            "settings": json.dumps(asdict(self.settings)),
        }

    def restore(self, path: Path) -> None:
        try:
            state = torch.load(path, map_location="cpu", weights_only=True)
        except Exception as error:  # corrupt or not ours
            raise WeightsError(f"checkpoint {path} cannot be read ({str(error).splitlines()[0]}); "
                               f"delete it to start the run afresh") from None
        if state.get("family") != self.task.family:
            raise RequestError(f"checkpoint {path} belongs to a {state.get('family')} run, not {self.task.family}: "
                               f"use another run folder")
        self.task.network.load_state_dict(state["network"])
        self.optimizer.load_state_dict(state["optimizer"])
        self.scaler.load_state_dict(state["scaler"])
        self.generator.set_state(state["generator"])
        self.step, self.seconds = state["step"], state["seconds"]
        self.phases = json.loads(state.get("phases", "[]"))
        self.earlier = json.loads(state.get("earlier", "null"))

    def initialise(self, path: Path) -> None:
        """Start the network from an exported model (keys and shapes checked) and carry on its card;
        a fast model narrower than the run's network is widened first (:func:`~..networks.fast_arbitrary.widen`)."""
        state, card = read_tensors(path, "initial weights")
        if isinstance(self.task.network, FastArbitraryNet) and is_fast_arbitrary(state):
            state = widen(load_fast_arbitrary(state, str(path)).state_dict(), self.task.network.channels)
        load_checked(self.task.network, state, str(path), f"the kind of model this run trains ({self.task.family})")
        self.task.network.requires_grad_(True)
        self.earlier = lineage(card)

    def learning_rate(self) -> float:
        return self.settings.learning_rate / (1 + self.settings.lr_decay * self.step)

    def advance(self) -> dict[str, float]:
        """One optimiser step; returns the losses of its batch."""
        for group in self.optimizer.param_groups:
            group["lr"] = self.learning_rate()
        with torch.autocast(self.device.type, dtype=self.dtype, enabled=self.autocast):
            losses = self.task.losses(self.generator, self.settings)
        total = losses["total"]
        if not torch.isfinite(total):
            raise RequestError(f"the loss became {float(total)} at step {self.step + 1}; lower the learning rate")
        self.optimizer.zero_grad(set_to_none=True)
        self.scaler.scale(total).backward()
        if self.settings.max_grad_norm is not None:
            self.scaler.unscale_(self.optimizer)
            nn.utils.clip_grad_norm_(self.task.network.parameters(), self.settings.max_grad_norm)
        self.scaler.step(self.optimizer)
        self.scaler.update()
        self.step += 1
        return {name: float(value.detach()) for name, value in losses.items()}


def train(
    task: Task,
    settings: TrainSettings,
    run: Path,
    name: str,
    command: str,
    quiet: bool = False,
    on_step: Callable[[int, dict[str, float]], None] | None = None,
    stop_after_s: float | None = None,
    init: Path | None = None,
) -> tuple[Path, int]:
    """Train ``task`` in folder ``run`` up to ``settings.steps`` (resuming a checkpoint there), then
    export ``run/NAME.safetensors`` and its card. Returns the exported file and the step reached.

    ``stop_after_s``: checkpoint and stop once this many seconds have passed (the export then holds
    the network so far, and the same call resumes): for machines that limit a command's time.
    ``init``: an exported model the network starts from when the run has no checkpoint yet.
    """
    deadline = None if stop_after_s is None else time.monotonic() + stop_after_s
    device = resolve_device(settings.device)
    dtype = resolve_dtype(settings.precision, device)
    if dtype == torch.float16 and device.type != "cuda":
        raise RequestError("float16 training needs CUDA; on the CPU use auto, bfloat16 or float32")
    run.mkdir(parents=True, exist_ok=True)
    task.to(device, channels_last=device.type == "cuda" or dtype != torch.float32)
    state = _Run(task, settings, device, dtype)
    if (run / CHECKPOINT).is_file():
        state.restore(run / CHECKPOINT)
    elif init is not None:
        state.initialise(init)
    state.begin(command)
    rows: list[dict[str, object]] = list(_read_log(run / LOSS_LOG, state.step))
    sums: dict[str, float] = {}
    task.network.train()
    bar = tqdm(total=settings.steps, initial=min(state.step, settings.steps), unit="step", disable=quiet,
               desc=f"train {task.family}")
    try:
        while state.step < settings.steps:
            started = time.perf_counter()
            losses = state.advance()
            state.seconds += time.perf_counter() - started
            for key, value in losses.items():
                sums[key] = sums.get(key, 0.0) + value
            if on_step is not None:
                on_step(state.step, losses)
            bar.update(1)
            if state.step % settings.log_every == 0:
                averages = {key: total / settings.log_every for key, total in sums.items()}
                rows.append({
                    "step": state.step, "lr": f"{state.learning_rate():.4g}", "seconds": f"{state.seconds:.1f}",
                    **{key: f"{value:.6g}" for key, value in averages.items()},
                })
                bar.set_postfix(loss=f"{averages['total']:.4g}", refresh=False)
                sums = {}
                _write_log(run / LOSS_LOG, rows)
            out_of_time = deadline is not None and time.monotonic() > deadline
            if state.step % settings.checkpoint_every == 0 or state.step == settings.steps or out_of_time:
                _atomic_save(state.state(), run / CHECKPOINT)
            if out_of_time:
                break
    except KeyboardInterrupt:
        _atomic_save(state.state(), run / CHECKPOINT)
        raise
    finally:
        bar.close()
    if rows:
        plot_losses(rows, run / LOSS_PLOT, title=f"{name} ({task.family})")
    return export(task, state, rows, run, name), state.step


def export(task: Task, state: _Run, rows: list[dict[str, object]], run: Path, name: str) -> Path:
    """``run/NAME.safetensors`` (float16, card in the metadata) and ``run/NAME.md``."""
    card = model_card(name, task, state.settings, state.step, state.seconds, rows, state.phases, state.device,
                      state.earlier)
    weights = {key: value.detach().cpu().half() for key, value in task.network.state_dict().items()}
    path = write_tensors(run / f"{name}.safetensors", weights, card)
    write_card(run / f"{name}.md", card)
    return path
