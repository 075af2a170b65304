"""Run the painters: on Ray Data (an actor pool, each actor loading its models once) or in this process.

Both take the rows still to do and give them back with ``status``, ``seconds`` and ``error``, calling
``progress(row)`` as each finishes. Images are read and written inside the painters, never shipped
through the driver.
"""

from __future__ import annotations

import importlib.util
import math
from collections.abc import Callable

import numpy as np

from plugin_core.errors import RequestError

from .manifest import blank

ENGINES = ("auto", "ray", "local")
RAY_EXTRA = "pip install 'brushwork[scale]'"


def ray_installed() -> bool:
    return importlib.util.find_spec("ray") is not None


def _columns(rows: list[dict]) -> dict[str, np.ndarray]:
    return {column: np.array([row[column] for row in rows], dtype=object) for column in rows[0]}


def _plain(value):
    """A cell as a plain Python value (blanks as None)."""
    return None if blank(value) else value.item() if isinstance(value, np.generic) else value


def _rows(batch: dict[str, np.ndarray]) -> list[dict]:
    count = len(batch["content"])
    return [{column: _plain(values[index]) for column, values in batch.items()} for index in range(count)]


def run_local(rows: list[dict], defaults: dict, batch_size: int, progress: Callable[[dict], None]) -> list[dict]:
    """The rows painted one batch after another in this process."""
    from .painter import Painter  # the painting stack, loaded only to paint

    painter, done = Painter(defaults), []
    for start in range(0, len(rows), batch_size):
        for row in _rows(painter(_columns(rows[start : start + batch_size]))):
            done.append(row)
            progress(row)
    return done


def run_ray(
    rows: list[dict], defaults: dict, batch_size: int, progress: Callable[[dict], None], actors: int,
    address: str | None = None, gpus_per_actor: float = 0.0,
) -> list[dict]:
    """The rows painted by ``actors`` Ray actors: a local Ray (this machine's CPUs), or the cluster at ``address``."""
    if not ray_installed():
        raise RequestError(f"the ray engine needs Ray: {RAY_EXTRA}")
    import ray

    from .painter import Painter

    ray.init(address=address, include_dashboard=False, ignore_reinit_error=True, log_to_driver=False,
             logging_level="ERROR")
    try:
        from ray.data import DataContext

        DataContext.get_current().enable_progress_bars = False
        blocks = math.ceil(len(rows) / batch_size)
        dataset = ray.data.from_items(rows, override_num_blocks=blocks)
        gpus = {"num_gpus": gpus_per_actor} if gpus_per_actor else {}
        painted = dataset.map_batches(
            Painter, fn_constructor_kwargs={"defaults": defaults}, batch_size=batch_size, batch_format="numpy",
            compute=ray.data.ActorPoolStrategy(size=min(actors, blocks)), **gpus,
        )
        done = []
        for row in painted.iter_rows():
            done.append({column: _plain(value) for column, value in row.items()})
            progress(done[-1])
        place = {row["output"]: index for index, row in enumerate(rows)}
        return sorted(done, key=lambda row: place[row["output"]])  # actors finish in their own order
    finally:
        ray.shutdown()
