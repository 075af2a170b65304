"""brushwork's REST service: a thin FastAPI adapter over :mod:`plugin_core.api`.

``settings`` (limits and where data lives), ``store`` (keys, jobs and usage in SQLite or
PostgreSQL), ``access`` (API keys and per-key rates), ``forms`` (the multipart fields -> a
:class:`plugin_core.api.StyleRequest`), ``pool`` (model work off the event loop, bounded),
``jobs`` (the durable job queue), ``limits`` (request bytes while they stream in), ``errors``
(every failure as ``{"error": {"code", "message"}}``), ``metrics`` (Prometheus), ``app`` (the
routes), ``ray_serve`` (the same app as a Ray Serve deployment).
"""
