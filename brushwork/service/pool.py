"""Model work off the event loop: ``workers`` threads paint, ``waiting`` more requests may queue for
them, and any beyond that are turned away (503) instead of piling up in memory; one key holds at
most a few of those places (429), so it cannot starve the others."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TypeVar

import anyio

from .errors import ApiError

T = TypeVar("T")
RETRY_SECONDS = 5


class Pool:
    """Made inside the event loop (the server's lifespan)."""

    def __init__(self, workers: int, waiting: int):
        self.limiter = anyio.CapacityLimiter(workers)
        self.capacity = workers + waiting
        self.admitted = 0

    @property
    def busy(self) -> int:
        return int(self.limiter.borrowed_tokens)

    @property
    def waiting(self) -> int:
        return self.admitted - self.busy

    async def run(self, work: Callable[..., T], *args) -> T:
        """``work(*args)`` on a worker thread, or 503 when every worker and waiting place is taken."""
        if self.admitted >= self.capacity:
            raise ApiError(503, "busy", f"all {self.capacity} places are taken; retry in a few seconds",
                           {"Retry-After": str(RETRY_SECONDS)})
        self.admitted += 1
        try:
            return await anyio.to_thread.run_sync(work, *args, limiter=self.limiter)
        finally:
            self.admitted -= 1


class KeyPlaces:
    """How many painting places each key holds on this server, at most ``per_key`` (used on the
    event loop only, so no lock)."""

    def __init__(self, per_key: int):
        self.per_key = per_key
        self.held_by: Counter = Counter()

    @contextmanager
    def held(self, key_id: int) -> Iterator[None]:
        if self.held_by[key_id] >= self.per_key:
            raise ApiError(429, "too_many_calls", f"this key already has {self.per_key} images painting or "
                                                  "waiting here; send the next when one is done",
                           {"Retry-After": str(RETRY_SECONDS)})
        self.held_by[key_id] += 1
        try:
            yield
        finally:
            self.held_by[key_id] -= 1
