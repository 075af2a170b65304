"""``Idempotency-Key``: a request repeated with the same key is painted and billed once.

The first request with a key claims it (``running``) in the shared database, so this holds across
replicas. Its success is stored in the same transaction that bills it: for ``/v1/stylize`` the
response's bytes and headers, for ``/v1/jobs`` the job. A repeat of the same request gets the stored
answer; the same key with another request is a 422 ``idempotency_mismatch``; a repeat while the
first still runs is a 409 ``idempotency_in_progress``. A first request that fails releases its key
(nothing was billed), so a repeat runs it again. Keys are kept ``Limits.idempotency_seconds``
from the answer; a claim still running is kept however long it paints, until it is abandoned.
"""

from __future__ import annotations

import hashlib
import json
import time
import uuid
from dataclasses import dataclass
from typing import TYPE_CHECKING

import sqlalchemy as sa

from .errors import ApiError
from .schema import idempotency, insert

if TYPE_CHECKING:
    from .painting import Order

HEADER = "Idempotency-Key"
LONGEST = 255
RUNNING, DONE = "running", "done"
ABANDONED_SECONDS = 300.0
"""A claim still running after this long belonged to a server that died: a repeat takes it over."""
RETRY_SECONDS = 1


@dataclass(frozen=True)
class Claim:
    """This request holds ``token`` for ``key_id``; ``owner`` tells it from a later takeover."""

    key_id: int
    token: str
    owner: str


@dataclass(frozen=True)
class Stored:
    """The first request's answer: a response (stylize), or a job's id (jobs)."""

    status: int | None
    headers: dict
    body: bytes | None
    job_id: str | None


def checked_token(token: str) -> str:
    if not 1 <= len(token) <= LONGEST or not token.isascii() or not token.isprintable():
        raise ApiError(400, "invalid_idempotency_key",
                       f"{HEADER} must be 1 to {LONGEST} printable ASCII characters (a UUID is a good choice)")
    return token


def fingerprint(route: str, order: Order) -> str:
    """SHA-256 of what makes two requests the same: the route, the fields, and each upload's field,
    name and bytes."""
    files = [[u.field, u.filename, hashlib.sha256(u.data).hexdigest()] for u in order.uploads]
    return hashlib.sha256(json.dumps([route, order.fields, files], sort_keys=True).encode()).hexdigest()


def claim(engine: sa.Engine, key_id: int, token: str, signature: str, keep_seconds: float) -> Claim | Stored:
    """Claim ``token`` for this request, or the stored answer of the first one; 409 or 422 otherwise."""
    now, owner = time.time(), uuid.uuid4().hex
    mine = (idempotency.c.key_id == key_id) & (idempotency.c.token == token)
    with engine.begin() as db:
        db.execute(idempotency.delete().where(mine, _expired(now)))
        taken = db.execute(insert(db)(idempotency).values(
            key_id=key_id, token=token, fingerprint=signature, owner=owner, state=RUNNING, created=now,
            expires=now + keep_seconds).on_conflict_do_nothing(index_elements=[idempotency.c.key_id,
                                                                               idempotency.c.token])
            .returning(idempotency.c.owner)).first()
        if taken is not None:
            return Claim(key_id, token, owner)
        row = db.execute(sa.select(idempotency).where(mine)).one()
        if row.fingerprint != signature:
            raise ApiError(422, "idempotency_mismatch", f"{HEADER} {token!r} was used with a different request; "
                                                        "a new request needs a new key")
        if row.state == DONE:
            return Stored(row.status, json.loads(row.headers or "{}"), row.body, row.job_id)
        if row.created < now - ABANDONED_SECONDS:
            took = db.execute(idempotency.update().where(mine, idempotency.c.owner == row.owner)
                              .values(owner=owner, created=now, expires=now + keep_seconds))
            if took.rowcount == 1:
                return Claim(key_id, token, owner)
    raise ApiError(409, "idempotency_in_progress", f"the first request with {HEADER} {token!r} is still "
                                                   "running; repeat it shortly for its answer",
                   {"Retry-After": str(RETRY_SECONDS)})


def complete(db: sa.Connection, held: Claim, status: int | None = None, headers: dict | None = None,
             body: bytes | None = None, job_id: str | None = None) -> bool:
    """Store the answer, in the caller's transaction, kept as long from now as the claim was; False
    when the claim was taken over."""
    kept = idempotency.c.expires - idempotency.c.created
    done = db.execute(idempotency.update().where(
        idempotency.c.key_id == held.key_id, idempotency.c.token == held.token,
        idempotency.c.owner == held.owner, idempotency.c.state == RUNNING,
    ).values(state=DONE, status=status, headers=json.dumps(headers or {}), body=body, job_id=job_id,
             expires=time.time() + kept))
    return done.rowcount == 1


def release(db: sa.Connection, held: Claim) -> None:
    """Give the key up after a failure, so a repeat runs the request again."""
    db.execute(idempotency.delete().where(idempotency.c.key_id == held.key_id, idempotency.c.token == held.token,
                                          idempotency.c.owner == held.owner, idempotency.c.state == RUNNING))


def expire(db: sa.Connection, now: float) -> None:
    db.execute(idempotency.delete().where(_expired(now)))


def _expired(now: float) -> sa.ColumnElement[bool]:
    """An answer past its keep, or a claim past its keep that was also abandoned: a claim that
    paints longer than the keep must still find its row to store its answer."""
    abandoned = (idempotency.c.state == RUNNING) & (idempotency.c.created < now - ABANDONED_SECONDS)
    return (idempotency.c.expires < now) & ((idempotency.c.state == DONE) | abandoned)
