"""Prometheus metrics, one registry per app: requests by route and status, latency, queue depth, busy
workers and images by method (``GET /metrics``)."""

from __future__ import annotations

import time
from collections.abc import Callable

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

LATENCY_BUCKETS = (0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300)


class Metrics:
    def __init__(self):
        self.registry = CollectorRegistry()
        self.requests = Counter("brushwork_requests", "HTTP requests by route and status", ["route", "status"],
                                registry=self.registry)
        self.latency = Histogram("brushwork_request_seconds", "HTTP request latency by route", ["route"],
                                 buckets=LATENCY_BUCKETS, registry=self.registry)
        self.queue = Gauge("brushwork_queue_depth", "requests waiting for a worker, and queued jobs", ["kind"],
                           registry=self.registry)
        self.busy = Gauge("brushwork_busy_workers", "workers painting now", ["pool"], registry=self.registry)
        self.images = Counter("brushwork_images", "images painted by method", ["method"], registry=self.registry)

    def watch(self, waiting: Callable[[], float], busy: Callable[[], float], queued_jobs: Callable[[], float],
              busy_jobs: Callable[[], float]) -> None:
        """Gauges read at each scrape."""
        self.queue.labels("requests").set_function(waiting)
        self.queue.labels("jobs").set_function(queued_jobs)
        self.busy.labels("requests").set_function(busy)
        self.busy.labels("jobs").set_function(busy_jobs)


class Measure:
    """ASGI middleware counting each request under its route's template (``/v1/jobs/{job_id}``)."""

    def __init__(self, app, metrics: Metrics):
        self.app, self.metrics = app, metrics

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        start, status = time.perf_counter(), 500

        async def noted_send(message):
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, noted_send)
        finally:
            route = getattr(scope.get("route"), "path", "unmatched")
            self.metrics.requests.labels(route, str(status)).inc()
            self.metrics.latency.labels(route).observe(time.perf_counter() - start)
