"""Who is calling (``Authorization: Bearer KEY``) and whether they may call again yet.

While the database has never held a key the server is open, and only then: such a server binds
loopback addresses only (``brushwork serve`` refuses any other), and every call is the local
user's. Once a key exists every ``/v1`` call needs a live one. The key is checked from the headers,
before the body is read (:class:`Authenticate`), and an address that keeps sending wrong keys is
turned away before the database is asked.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import anyio
import sqlalchemy as sa
from fastapi import Header, Request

from .errors import DATABASE_AWAY, ApiError, database_unavailable, send_error
from .ledger import LOCAL_KEY, LOCAL_NAME
from .schema import insert, rate_buckets
from .store import Store

BEARER = "bearer "
FAILURES_PER_MINUTE = 10
"""Wrong or revoked keys an address may send a minute (in bursts of as many) before they get 429."""
REMEMBERED_ADDRESSES = 10_000
V1 = "/v1/"


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


class Failures:
    """A token bucket per client address for calls with a wrong key (in this process's memory; the
    full buckets are forgotten when it remembers too many addresses)."""

    def __init__(self, per_minute: float = FAILURES_PER_MINUTE):
        self.rate, self.burst = per_minute / 60.0, per_minute
        self.buckets: dict[str, tuple[float, float]] = {}

    def _tokens(self, address: str, now: float) -> float:
        tokens, then = self.buckets.get(address, (self.burst, now))
        return min(self.burst, tokens + (now - then) * self.rate)

    def spent(self, address: str) -> float:
        """Seconds until ``address`` may try another key (0: it may now)."""
        tokens = self._tokens(address, time.monotonic())
        return 0.0 if tokens >= 1 else (1 - tokens) / self.rate

    def failed(self, address: str) -> None:
        now = time.monotonic()
        if len(self.buckets) >= REMEMBERED_ADDRESSES:
            self.buckets = {a: b for a, b in self.buckets.items() if self._tokens(a, now) < self.burst}
        self.buckets[address] = (self._tokens(address, now) - 1, now)


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

    def __call__(self, request: Request,
                 authorization: str | None = Header(default=None, description="Bearer KEY")) -> Caller:
        caller = getattr(request.state, "caller", None) or self.identify(authorization)
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


class Authenticate:
    """ASGI middleware: a ``/v1`` call is identified from its headers before its body is read, so a
    wrong key is answered at once whatever it uploads; the :class:`Caller` goes on in the request's
    state. An address past :data:`FAILURES_PER_MINUTE` wrong keys gets 429 for the next wrong one
    (a right key always passes: many users may share an address)."""

    def __init__(self, app, access: Access):
        self.app, self.access, self.failures = app, access, Failures()

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http" or not scope["path"].startswith(V1):
            return await self.app(scope, receive, send)
        authorization = dict(scope["headers"]).get(b"authorization", b"").decode("latin-1") or None
        try:
            caller = await anyio.to_thread.run_sync(self.access.identify, authorization)
        except ApiError as refusal:
            address = (scope.get("client") or ("unknown",))[0]
            wait = self.failures.spent(address)
            self.failures.failed(address)
            if wait:
                return await send_error(send, 429, "too_many_failures", "too many calls with wrong API keys from "
                                        f"this address: retry in {wait:.0f} s", {"Retry-After": str(round(wait + 0.5))})
            return await send_error(send, refusal.status, refusal.code, refusal.message, refusal.headers)
        except DATABASE_AWAY:
            return await database_unavailable()(scope, receive, send)
        scope.setdefault("state", {})["caller"] = caller
        await self.app(scope, receive, send)
