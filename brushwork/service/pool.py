"""Model work off the event loop: ``workers`` threads paint, ``waiting`` more requests may queue for
them, and any beyond that are turned away (503) instead of piling up in memory."""

from __future__ import annotations

from collections.abc import Callable
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
