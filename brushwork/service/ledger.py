"""The ledger: every call that reaches painting is a row in ``calls``, billed once, when it succeeds.

A call is reserved (``pending``) under its key's monthly quotas before anything is painted. It is
then either billed (its megapixels and compute seconds added to ``usage`` in the same transaction)
or ended unbilled: ``failed``, ``refused`` or ``cancelled``, with a code saying why. Both only move
a ``pending`` row, so a call is billed at most once however many servers finish it (a job run again
after its first server died). Functions here take an open transaction, so callers make billing part
of the same commit as whatever else the call changes.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime, timezone

import sqlalchemy as sa

from .schema import calls, insert, keys, usage

PENDING, BILLED, FAILED, REFUSED, CANCELLED = "pending", "billed", "failed", "refused", "cancelled"
QUOTA_EXCEEDED = "quota_exceeded"
LOCAL_KEY = 0
"""The owner of every call while the database holds no key (a loopback-only server)."""
LOCAL_NAME = "local"


class QuotaExceeded(Exception):
    """A key's monthly quota would be passed by this call; the message says which and when it resets."""


def new_call() -> str:
    return uuid.uuid4().hex


def _utc(now: float) -> datetime:
    return datetime.fromtimestamp(now, timezone.utc)


def day(now: float) -> str:
    return _utc(now).strftime("%Y-%m-%d")


def month_turns(now: float) -> datetime:
    """The first instant of the next UTC month: when monthly quotas start again."""
    moment = _utc(now)
    year, month = (moment.year + 1, 1) if moment.month == 12 else (moment.year, moment.month + 1)
    return datetime(year, month, 1, tzinfo=timezone.utc)


@dataclass(frozen=True)
class Month:
    """A key's calendar month (UTC): its quotas (None: none), what is billed and what is pending."""

    month: str
    calls_quota: int | None
    megapixels_quota: float | None
    billed_calls: int
    billed_megapixels: float
    pending_calls: int
    pending_megapixels: float
    resets: datetime

    def refusal(self, megapixels: float) -> str | None:
        """Why one more call of ``megapixels`` may not start (None: it may)."""
        when = f"the quota resets at {self.resets.isoformat()}"
        if self.calls_quota is not None and self.billed_calls + self.pending_calls + 1 > self.calls_quota:
            return f"this key's monthly quota of {self.calls_quota} calls is used up; {when}"
        taken = self.billed_megapixels + self.pending_megapixels
        if self.megapixels_quota is not None and taken + megapixels > self.megapixels_quota:
            return (f"this call's {megapixels:.3f} megapixels would pass this key's monthly quota of "
                    f"{self.megapixels_quota:g} ({max(0.0, self.megapixels_quota - taken):.3f} left); {when}")
        return None

    def as_dict(self) -> dict:
        def part(quota, billed, pending, digits):
            left = None if quota is None else round(max(0, quota - billed - pending), digits)
            return {"quota": quota, "used": round(billed, digits), "pending": round(pending, digits),
                    "remaining": left}

        return {"month": self.month, "resets": self.resets.isoformat(),
                "calls": part(self.calls_quota, self.billed_calls, self.pending_calls, 0),
                "megapixels": part(self.megapixels_quota, self.billed_megapixels, self.pending_megapixels, 6)}


def month(db: sa.Connection, key_id: int, now: float) -> Month:
    first = _utc(now).strftime("%Y-%m-01")
    billed = db.execute(sa.select(sa.func.coalesce(sa.func.sum(usage.c.calls), 0),
                                  sa.func.coalesce(sa.func.sum(usage.c.megapixels), 0.0))
                        .where(usage.c.key_id == key_id, usage.c.day >= first)).one()
    pending = db.execute(sa.select(sa.func.count(), sa.func.coalesce(sa.func.sum(calls.c.megapixels), 0.0))
                         .where(calls.c.key_id == key_id, calls.c.state == PENDING)).one()
    quota = db.execute(sa.select(keys.c.monthly_calls, keys.c.monthly_megapixels).where(keys.c.id == key_id)).first()
    calls_quota, megapixels_quota = quota if quota is not None else (None, None)
    return Month(first[:7], calls_quota, megapixels_quota, int(billed[0]), float(billed[1]), int(pending[0]),
                 float(pending[1]), month_turns(now))


def reserve(db: sa.Connection, call_id: str, key_id: int, method: str, megapixels: float, now: float) -> str | None:
    """Reserve a call under its key's quotas: None, or why it is refused (then recorded as refused).

    The key's row is written first, which locks it (PostgreSQL) or the database (SQLite) until the
    transaction ends, so two servers never both take the last call of a quota.
    """
    db.execute(keys.update().where(keys.c.id == key_id).values(monthly_calls=keys.c.monthly_calls))
    refusal = month(db, key_id, now).refusal(megapixels)
    db.execute(calls.insert().values(id=call_id, key_id=key_id, method=method, megapixels=megapixels, seconds=0.0,
                                     created=now, state=REFUSED if refusal else PENDING,
                                     code=QUOTA_EXCEEDED if refusal else None, ended=now if refusal else None))
    return refusal


def bill(db: sa.Connection, call_id: str, megapixels: float, seconds: float, now: float) -> bool:
    """Bill a pending call: True, or False when it is not pending (billed or ended already)."""
    moved = db.execute(calls.update().where(calls.c.id == call_id, calls.c.state == PENDING).values(
        state=BILLED, megapixels=megapixels, seconds=seconds, ended=now))
    if moved.rowcount != 1:
        return False
    key_id, method = db.execute(sa.select(calls.c.key_id, calls.c.method).where(calls.c.id == call_id)).one()
    row = insert(db)(usage).values(key_id=key_id, day=day(now), method=method, calls=1, megapixels=megapixels,
                                    seconds=seconds)
    db.execute(row.on_conflict_do_update(
        index_elements=[usage.c.key_id, usage.c.day, usage.c.method],
        set_={"calls": usage.c.calls + 1, "megapixels": usage.c.megapixels + megapixels,
              "seconds": usage.c.seconds + seconds}))
    return True


def end(db: sa.Connection, call_id: str, state: str, code: str, now: float) -> bool:
    """End a pending call unbilled (``code`` says why): False when it was not pending."""
    return db.execute(calls.update().where(calls.c.id == call_id, calls.c.state == PENDING)
                      .values(state=state, code=code, ended=now)).rowcount == 1


def unbilled(db: sa.Connection, call_id: str, key_id: int, method: str, state: str, code: str, now: float) -> None:
    """End a call unbilled: its pending row, or a new row for a call refused before it was reserved."""
    if not end(db, call_id, state, code, now):
        db.execute(insert(db)(calls).values(id=call_id, key_id=key_id, method=method, state=state, code=code,
                                            megapixels=0.0, seconds=0.0, created=now, ended=now)
                   .on_conflict_do_nothing(index_elements=[calls.c.id]))


def abandon(db: sa.Connection, live_jobs: sa.Select, older_than: float, now: float) -> None:
    """Fail the pending calls of servers that died: older than ``older_than`` and not a live job."""
    db.execute(calls.update().where(calls.c.state == PENDING, calls.c.created < older_than,
                                    calls.c.id.not_in(live_jobs)).values(state=FAILED, code="server_stopped",
                                                                         ended=now))


def key_usage(db: sa.Connection, key_id: int) -> list[dict]:
    rows = db.execute(sa.select(usage).where(usage.c.key_id == key_id).order_by(usage.c.day, usage.c.method))
    return [{"day": row.day, "method": row.method, "calls": row.calls, "megapixels": round(row.megapixels, 6),
             "seconds": round(row.seconds, 3)} for row in rows]


def invoice_rows(db: sa.Connection, since: str | None = None, until: str | None = None,
                 key: str | None = None) -> list[dict]:
    """Billed usage per key name, UTC day and method, days from ``since`` to ``until`` (inclusive,
    ``YYYY-MM-DD``), of one key name or all: ``key, day, method, calls, megapixels, seconds``."""
    name = sa.case((usage.c.key_id == LOCAL_KEY, LOCAL_NAME), else_=keys.c.name).label("key")
    query = (sa.select(name, usage.c.day, usage.c.method, sa.func.sum(usage.c.calls).label("calls"),
                       sa.func.sum(usage.c.megapixels).label("megapixels"),
                       sa.func.sum(usage.c.seconds).label("seconds"))
             .select_from(usage.outerjoin(keys, keys.c.id == usage.c.key_id))
             .group_by(name, usage.c.day, usage.c.method).order_by(name, usage.c.day, usage.c.method))
    if since:
        query = query.where(usage.c.day >= since)
    if until:
        query = query.where(usage.c.day <= until)
    if key is not None:
        query = query.where(name == key)
    return [{"key": row.key, "day": row.day, "method": row.method, "calls": int(row.calls),
             "megapixels": round(row.megapixels, 6), "seconds": round(row.seconds, 3)} for row in db.execute(query)]
