"""What a server is allowed to do (:class:`Limits`) and where it keeps its data (:class:`Settings`)."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from plugin_core import credentials
from plugin_core.watermark import WORD_BITS

DEFAULT_PORT = 8000


@dataclass(frozen=True)
class Limits:
    """Safe defaults for a server on one machine; every one is a ``brushwork serve`` option.

    ``request_bytes`` is enforced while the body streams in; ``megapixels`` (per image),
    ``request_megapixels`` (all of a request's images) and ``styles`` are read from the images'
    headers before any is decoded (the decompression-bomb guard), and each image is decoded no
    larger than it is used. ``rate_per_minute`` holds
    for a key across every server of the database; an ``Idempotency-Key`` is kept
    ``idempotency_seconds``. One key may hold at most ``calls_per_key`` of a server's painting
    places and ``jobs_per_key`` queued or running jobs, so it cannot starve the others. A body that
    stops arriving for ``body_idle_seconds`` is cut (408).
    """

    request_bytes: int = 50 * 2**20
    megapixels: float = 40.0
    request_megapixels: float = 100.0
    styles: int = 8
    steps: int = 2000
    size: int = 2048
    rate_per_minute: float = 120.0
    waiting_requests: int = 8
    calls_per_key: int = 4
    queued_jobs: int = 100
    jobs_per_key: int = 20
    body_idle_seconds: float = 30.0
    job_seconds: float = 1800.0
    result_seconds: float = 86400.0
    idempotency_seconds: float = 86400.0

    @property
    def pixels(self) -> int:
        return int(self.megapixels * 1e6)

    @property
    def request_pixels(self) -> int:
        return int(self.request_megapixels * 1e6)


@dataclass(frozen=True)
class Settings:
    """``database_url`` None: SQLite in ``data/brushwork.sqlite3``. ``workers`` paint one-pass
    requests, ``job_workers`` run jobs; each is a thread that holds the device while it paints.
    A running job whose heartbeat is older than ``lease_seconds`` belonged to a server that died:
    it is queued again. Every result carries brushwork's invisible mark; ``watermark_serials`` puts
    the caller's key id in it too (its low 16 bits), so a result found elsewhere can be traced.
    Results carry C2PA content credentials where c2pa-python is installed, signed with
    ``c2pa_cert`` and ``c2pa_key``, else with a development certificate made once in ``data/c2pa``.
    ``allowed_hosts``: the Host names it answers to (empty: any; without keys, loopback only).
    ``trusted_proxies``: the addresses whose ``X-Forwarded-For`` is believed (None: nobody's)."""

    data: Path = field(default_factory=lambda: Path.home() / ".local" / "share" / "brushwork-serve")
    database_url: str | None = None
    workers: int = 1
    job_workers: int = 1
    device: str = "auto"
    limits: Limits = field(default_factory=Limits)
    lease_seconds: float = 30.0
    heartbeat_seconds: float = 1.0
    watermark_serials: bool = False
    c2pa_cert: Path | None = None
    c2pa_key: Path | None = None
    allowed_hosts: tuple[str, ...] = ()
    trusted_proxies: str | None = None

    def serial(self, key_id: int) -> int:
        """The serial the mark of ``key_id``'s results carries (0: none)."""
        return key_id % 2**WORD_BITS if self.watermark_serials else 0

    def signer(self) -> credentials.Signer | None:
        """Who signs the results' content credentials (None: c2pa-python is not installed)."""
        if self.c2pa_cert is None and not credentials.installed():
            return None
        return credentials.chosen_signer(self.c2pa_cert, self.c2pa_key, self.data / "c2pa")

    def url(self) -> str:
        return self.database_url or f"sqlite:///{self.data / 'brushwork.sqlite3'}"
