"""Who is calling (``Authorization: Bearer KEY``) and whether they may call again yet.

While the database has never held a key the server is open, and only then: such a server binds
loopback addresses only (``brushwork serve`` refuses any other), and every call is the local
user's. Once a key exists every ``/v1`` call needs a live one.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import sqlalchemy as sa
from fastapi import Header

from .errors import ApiError
from .ledger import LOCAL_KEY, LOCAL_NAME
from .schema import insert, rate_buckets
from .store import Store

BEARER = "bearer "


@dataclass(frozen=True)
class Caller:
    key_id: int
    name: str


class RateLimiter:
    """A token bucket per key in the shared database, so the rate holds across every server of it:
    ``per_minute`` calls a minute, in bursts of at most that many. Each server reads its own clock
    (keep them in step, as NTP does)."""

    def __init__(self, engine: sa.Engine, per_minute: float):
        self.engine = engine
        self.rate = per_minute / 60.0
        self.burst = max(1.0, per_minute)

    def wait(self, key_id: int) -> float:
        """Take a token for ``key_id``: 0 when there was one, else the seconds until there is."""
        now = time.time()
        refilled = rate_buckets.c.tokens + (now - rate_buckets.c.updated) * self.rate
        tokens = sa.case((refilled > self.burst, self.burst), else_=refilled)
        mine = rate_buckets.c.key_id == key_id
        with self.engine.begin() as db:
            if db.execute(rate_buckets.update().where(mine, tokens >= 1)
                          .values(tokens=tokens - 1, updated=now)).rowcount == 1:
                return 0.0
            if db.execute(insert(db)(rate_buckets).values(key_id=key_id, tokens=self.burst - 1, updated=now)
                          .on_conflict_do_nothing(index_elements=[rate_buckets.c.key_id])
                          .returning(rate_buckets.c.key_id)).first() is not None:
                return 0.0
            left = db.execute(sa.select(tokens).where(mine)).scalar_one()
        return max(1 - left, 0.0) / self.rate


class Access:
    """The FastAPI dependency of every ``/v1`` route: the :class:`Caller`, or 401/403/429."""

    def __init__(self, store: Store, per_minute: float):
        self.store = store
        self.limiter = RateLimiter(store.engine, per_minute)
        self.keyed = False

    def has_keys(self) -> bool:
        """Keys are revoked, never deleted, so once true this stays true without asking again."""
        self.keyed = self.keyed or self.store.has_keys()
        return self.keyed

    def __call__(self, authorization: str | None = Header(default=None, description="Bearer KEY")) -> Caller:
        caller = self.identify(authorization)
        retry = self.limiter.wait(caller.key_id)
        if retry:
            raise ApiError(429, "rate_limited", f"too many requests for key {caller.name!r}: retry in {retry:.1f} s",
                           {"Retry-After": str(max(1, round(retry + 0.5)))})
        return caller

    def identify(self, authorization: str | None) -> Caller:
        if not self.has_keys():
            return Caller(LOCAL_KEY, LOCAL_NAME)
        if not authorization or not authorization.lower().startswith(BEARER):
            raise ApiError(401, "unauthorized", "this server needs an API key: send 'Authorization: Bearer KEY'",
                           {"WWW-Authenticate": "Bearer"})
        key = self.store.key(authorization[len(BEARER):].strip())
        if key is None:
            raise ApiError(401, "unauthorized", "unknown API key", {"WWW-Authenticate": "Bearer"})
        if key.revoked is not None:
            raise ApiError(403, "forbidden", f"API key {key.prefix}... ({key.name!r}) was revoked")
        return Caller(key.id, key.name)
