"""Tests in the real hosts (GIMP 3, ComfyUI). CI prepares them (``.ci/run``), so there a host that
cannot run is a failure; elsewhere its tests skip, saying why."""

from __future__ import annotations

import os

import pytest


def unavailable(reason: str) -> None:
    """Fail under ``CI=true``, skip elsewhere: the host test cannot run because of ``reason``."""
    if os.environ.get("CI") == "true":
        pytest.fail(f"the real-host test must run under CI, but {reason}")
    pytest.skip(f"no real-host test: {reason}")
