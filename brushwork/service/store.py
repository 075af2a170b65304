"""Keys, jobs and their billing in one database: SQLite by default, PostgreSQL when replicas share it.

Only a key's SHA-256 is stored. A job keeps its uploaded files and, once done, its result, so any
replica can answer for it and it survives a restart. A job is claimed with a compare-and-set
(``UPDATE ... WHERE state = 'queued'``), so two replicas never run the same job, and only the
server that holds it may finish it. A job is a call of the ledger (:mod:`.ledger`) from the moment
it is queued; each change of its state and its call's is one transaction.
"""

from __future__ import annotations

import hashlib
import json
import secrets
import time
from dataclasses import dataclass
from pathlib import Path

import sqlalchemy as sa

from . import idempotency, ledger, migrate
from .errors import ApiError
from .idempotency import Claim
from .ledger import QuotaExceeded
from .schema import job_files, jobs, keys

KEY_PREFIX = "bw_"
ATTEMPTS = 2
"""A job is run at most this often: once, and once more if its server died while running it."""
QUEUED, RUNNING, CANCELLING = "queued", "running", "cancelling"
DONE, FAILED, CANCELLED, EXPIRED = "done", "failed", "cancelled", "expired"
LIVE = (QUEUED, RUNNING, CANCELLING)
QUEUE_LOCK = 0x6272_7371
"""PostgreSQL advisory lock held while a job is counted against the queue's caps and queued."""
RETRY_SECONDS = 5
UNSET = object()
"""A quota argument left as it is."""


@dataclass(frozen=True)
class Key:
    id: int
    name: str
    prefix: str
    created: float
    revoked: float | None
    monthly_calls: int | None
    monthly_megapixels: float | None


@dataclass(frozen=True)
class Upload:
    """One uploaded file: its form field (``content``, ``style``, ``mask``), name and bytes."""

    field: str
    filename: str
    data: bytes


@dataclass(frozen=True)
class Job:
    id: str
    key_id: int
    state: str
    method: str
    fields: dict
    progress: float
    error: str | None
    attempts: int
    created: float
    started: float | None
    finished: float | None
    media_type: str | None


def digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def _job(row) -> Job:
    return Job(row.id, row.key_id, row.state, row.method, json.loads(row.fields), row.progress, row.error,
               row.attempts, row.created, row.started, row.finished, row.media_type)


def _key(row) -> Key:
    return Key(row.id, row.name, row.prefix, row.created, row.revoked, row.monthly_calls, row.monthly_megapixels)


JOB_COLUMNS = [column for column in jobs.c if column.name != "result"]


class Store:
    """The service's database at ``url`` (an SQLAlchemy URL). An empty one is made at this brushwork's
    schema; one at another schema revision is refused (:mod:`.migrate`)."""

    def __init__(self, url: str):
        self.engine = sa.create_engine(url, pool_pre_ping=True)
        if self.engine.dialect.name == "sqlite":
            if self.engine.url.database not in (None, "", ":memory:"):
                _private(Path(self.engine.url.database))
            sa.event.listen(self.engine, "connect", _sqlite_pragmas)
        migrate.prepare(self.engine)

    # keys
    def add_key(self, name: str, monthly_calls: int | None = None, monthly_megapixels: float | None = None) -> str:
        """A new random key for ``name``; only its digest is kept, so this is the one time it is seen."""
        token = KEY_PREFIX + secrets.token_urlsafe(32)
        with self.engine.begin() as db:
            db.execute(keys.insert().values(name=name, prefix=token[:8], digest=digest(token), created=time.time(),
                                            monthly_calls=monthly_calls, monthly_megapixels=monthly_megapixels))
        return token

    def set_quotas(self, name: str, monthly_calls=UNSET, monthly_megapixels=UNSET) -> int:
        """Set the quotas (None: none) of every live key named ``name``; returns how many."""
        values = {column: value for column, value in
                  (("monthly_calls", monthly_calls), ("monthly_megapixels", monthly_megapixels)) if value is not UNSET}
        with self.engine.begin() as db:
            return db.execute(keys.update().where(keys.c.name == name, keys.c.revoked.is_(None))
                              .values(**values)).rowcount

    def keys(self) -> list[Key]:
        with self.engine.connect() as db:
            return [_key(row) for row in db.execute(sa.select(keys).order_by(keys.c.id))]

    def revoke(self, name: str) -> int:
        """Revoke every live key named ``name``; returns how many."""
        with self.engine.begin() as db:
            revoked = db.execute(keys.update().where(keys.c.name == name, keys.c.revoked.is_(None))
                                 .values(revoked=time.time()))
            return revoked.rowcount

    def has_keys(self) -> bool:
        with self.engine.connect() as db:
            return db.execute(sa.select(sa.func.count()).select_from(keys)).scalar_one() > 0

    def key(self, token: str) -> Key | None:
        with self.engine.connect() as db:
            row = db.execute(sa.select(keys).where(keys.c.digest == digest(token))).first()
        return None if row is None else _key(row)

    # calls and usage
    def reserve(self, call_id: str, key_id: int, method: str, megapixels: float) -> None:
        """Reserve a call under its key's quotas, or raise :class:`QuotaExceeded` (recorded as refused)."""
        with self.engine.begin() as db:
            refusal = ledger.reserve(db, call_id, key_id, method, megapixels, time.time())
        if refusal:
            raise QuotaExceeded(refusal)

    def bill(self, call_id: str, megapixels: float, seconds: float, claim: Claim | None = None,
             answer: dict | None = None) -> bool:
        """Bill a call, and store its answer (``idempotency.complete``'s arguments) under ``claim`` in the
        same transaction; False, billing nothing, when the claim was taken over by a later request."""
        with self.engine.begin() as db:
            if claim is not None and not idempotency.complete(db, claim, **(answer or {})):
                ledger.end(db, call_id, CANCELLED, "idempotency_superseded", time.time())
                return False
            return ledger.bill(db, call_id, megapixels, seconds, time.time())

    def unbilled(self, call_id: str, key_id: int, method: str, state: str, code: str,
                 claim: Claim | None = None) -> None:
        """End a call unbilled, releasing its idempotency key."""
        with self.engine.begin() as db:
            ledger.unbilled(db, call_id, key_id, method, state, code, time.time())
            if claim is not None:
                idempotency.release(db, claim)

    def claim_idempotency(self, key_id: int, token: str, signature: str, keep_seconds: float):
        return idempotency.claim(self.engine, key_id, token, signature, keep_seconds)

    def month(self, key_id: int) -> ledger.Month:
        with self.engine.connect() as db:
            return ledger.month(db, key_id, time.time())

    def usage(self, key_id: int) -> list[dict]:
        with self.engine.connect() as db:
            return ledger.key_usage(db, key_id)

    def invoice(self, since: str | None = None, until: str | None = None, key: str | None = None) -> list[dict]:
        with self.engine.connect() as db:
            return ledger.invoice_rows(db, since, until, key)

    # jobs
    def add_job(self, job_id: str, key_id: int, method: str, fields: dict, uploads: list[Upload], megapixels: float,
                caps: tuple[int, int], claim: Claim | None = None) -> Job:
        """Queue a job as a reserved call of the same id, storing it under ``claim``; returns it as
        stored. ``caps``: jobs queued in all, and jobs queued or running of this key, at most; both are
        counted under a lock, so parallel submissions never pass them. Raises :class:`QuotaExceeded`,
        or 503 ``busy`` / 429 ``too_many_jobs``."""
        job = Job(job_id, key_id, QUEUED, method, fields, 0.0, None, 0, time.time(), None, None, None)
        with self.engine.begin() as db:
            _queue_locked(db)
            _within(db, key_id, *caps)
            refusal = ledger.reserve(db, job.id, key_id, method, megapixels, job.created)
            if refusal is None:
                db.execute(jobs.insert().values(id=job.id, key_id=key_id, state=QUEUED, method=method,
                                                fields=json.dumps(fields), progress=0.0, attempts=0,
                                                created=job.created))
                if uploads:
                    db.execute(job_files.insert(), [
                        {"job_id": job.id, "position": n, "field": u.field, "filename": u.filename, "data": u.data}
                        for n, u in enumerate(uploads)
                    ])
                if claim is not None:
                    idempotency.complete(db, claim, job_id=job.id)
        if refusal:
            raise QuotaExceeded(refusal)
        return job

    def queued(self) -> int:
        with self.engine.connect() as db:
            return db.execute(sa.select(sa.func.count()).select_from(jobs).where(jobs.c.state == QUEUED)).scalar_one()

    def job(self, job_id: str, key_id: int | None = None) -> Job | None:
        """The job, if it exists and (when ``key_id`` is given) belongs to that key."""
        query = sa.select(*JOB_COLUMNS).where(jobs.c.id == job_id)
        if key_id is not None:
            query = query.where(jobs.c.key_id == key_id)
        with self.engine.connect() as db:
            row = db.execute(query).first()
        return None if row is None else _job(row)

    def uploads(self, job_id: str) -> list[Upload]:
        with self.engine.connect() as db:
            rows = db.execute(sa.select(job_files).where(job_files.c.job_id == job_id).order_by(job_files.c.position))
            return [Upload(row.field, row.filename, row.data) for row in rows]

    def result(self, job_id: str) -> bytes | None:
        with self.engine.connect() as db:
            return db.execute(sa.select(jobs.c.result).where(jobs.c.id == job_id)).scalar_one_or_none()

    def claim(self, worker: str) -> Job | None:
        """The oldest queued job, now running on ``worker``; None when none is queued."""
        while True:
            with self.engine.begin() as db:
                job_id = db.execute(sa.select(jobs.c.id).where(jobs.c.state == QUEUED)
                                    .order_by(jobs.c.created).limit(1)).scalar_one_or_none()
                if job_id is None:
                    return None
                now = time.time()
                claimed = db.execute(jobs.update().where(jobs.c.id == job_id, jobs.c.state == QUEUED).values(
                    state=RUNNING, worker=worker, started=now, heartbeat=now, progress=0.0,
                    attempts=jobs.c.attempts + 1))
            if claimed.rowcount == 1:
                return self.job(job_id)

    def beat(self, job_ids: list[str]) -> dict[str, str]:
        """Mark ``job_ids`` alive; returns their states (a ``cancelling`` one should stop)."""
        if not job_ids:
            return {}
        with self.engine.begin() as db:
            db.execute(jobs.update().where(jobs.c.id.in_(job_ids)).values(heartbeat=time.time()))
            rows = db.execute(sa.select(jobs.c.id, jobs.c.state).where(jobs.c.id.in_(job_ids)))
            return {row.id: row.state for row in rows}

    def progress(self, job_id: str, fraction: float) -> None:
        with self.engine.begin() as db:
            db.execute(jobs.update().where(jobs.c.id == job_id).values(progress=fraction))

    def finish(self, job_id: str, worker: str, result: bytes, media_type: str, megapixels: float,
               seconds: float) -> bool:
        """Store ``worker``'s result and bill the job, once: False when the job is no longer ``worker``'s
        (its lease ran out and another server took it)."""
        now = time.time()
        with self.engine.begin() as db:
            done = db.execute(jobs.update().where(jobs.c.id == job_id, jobs.c.worker == worker,
                                                  jobs.c.state.in_([RUNNING, CANCELLING])).values(
                state=DONE, progress=1.0, finished=now, result=result, media_type=media_type))
            if done.rowcount != 1:
                return False
            db.execute(job_files.delete().where(job_files.c.job_id == job_id))
            ledger.bill(db, job_id, megapixels, seconds, now)
            return True

    def end(self, job_id: str, state: str, error: str | None = None, code: str | None = None) -> None:
        """End a job as ``failed`` or ``cancelled``, unbilled (``code`` says why); its uploads are dropped."""
        now = time.time()
        with self.engine.begin() as db:
            db.execute(jobs.update().where(jobs.c.id == job_id).values(state=state, error=error, finished=now))
            db.execute(job_files.delete().where(job_files.c.job_id == job_id))
            ledger.end(db, job_id, state, code or state, now)

    def cancel(self, job_id: str) -> str:
        """Cancel a job: a queued one at once, a running one at its next step (``cancelling``); a
        finished one is deleted with its result. Returns the state it is left in (``deleted``)."""
        with self.engine.begin() as db:
            state = db.execute(sa.select(jobs.c.state).where(jobs.c.id == job_id)).scalar_one()
            if state == QUEUED:
                db.execute(jobs.update().where(jobs.c.id == job_id, jobs.c.state == QUEUED)
                           .values(state=CANCELLED, finished=time.time()))
                db.execute(job_files.delete().where(job_files.c.job_id == job_id))
                ledger.end(db, job_id, CANCELLED, CANCELLED, time.time())
                return CANCELLED
            if state in (RUNNING, CANCELLING):
                db.execute(jobs.update().where(jobs.c.id == job_id).values(state=CANCELLING))
                return CANCELLING
            db.execute(job_files.delete().where(job_files.c.job_id == job_id))
            db.execute(jobs.delete().where(jobs.c.id == job_id))
            return "deleted"

    def requeue(self, job_id: str, worker: str) -> None:
        """Give back a job this server stops running (it is shutting down): queued again, the attempt
        not counted; one being cancelled is cancelled."""
        with self.engine.begin() as db:
            mine = (jobs.c.id == job_id) & (jobs.c.worker == worker)
            db.execute(jobs.update().where(mine, jobs.c.state == RUNNING).values(
                state=QUEUED, worker=None, progress=0.0, attempts=jobs.c.attempts - 1))
            cancelled = db.execute(jobs.update().where(mine, jobs.c.state == CANCELLING)
                                   .values(state=CANCELLED, finished=time.time()))
            if cancelled.rowcount:
                ledger.end(db, job_id, CANCELLED, CANCELLED, time.time())

    def recover(self, lease_seconds: float) -> None:
        """Jobs whose server stopped beating for ``lease_seconds``: queued again while they have
        attempts left, else failed; a ``cancelling`` one is cancelled. Calls left pending by a server
        that died while painting (not jobs) are failed after :data:`idempotency.ABANDONED_SECONDS`."""
        now = time.time()
        stale = jobs.c.heartbeat < now - lease_seconds
        ids = sa.select(jobs.c.id).where(stale)
        with self.engine.begin() as db:
            ended = {CANCELLED: db.execute(ids.where(jobs.c.state == CANCELLING)).scalars().all()}
            db.execute(jobs.update().where(stale, jobs.c.state == CANCELLING).values(state=CANCELLED, finished=now))
            db.execute(jobs.update().where(stale, jobs.c.state == RUNNING, jobs.c.attempts < ATTEMPTS)
                       .values(state=QUEUED, worker=None, progress=0.0))
            ended[FAILED] = db.execute(ids.where(jobs.c.state == RUNNING)).scalars().all()
            db.execute(jobs.update().where(stale, jobs.c.state == RUNNING).values(
                state=FAILED, finished=now,
                error=f"the server running this job stopped {ATTEMPTS} times; submit it again"))
            for state, job_ids in ended.items():
                for job_id in job_ids:
                    ledger.end(db, job_id, state, "server_stopped", now)
            ledger.abandon(db, sa.select(jobs.c.id).where(jobs.c.state.in_(LIVE)),
                           now - idempotency.ABANDONED_SECONDS, now)

    def expire(self, result_seconds: float) -> None:
        """Drop the results of jobs that finished more than ``result_seconds`` ago, and expired
        idempotency keys."""
        now = time.time()
        with self.engine.begin() as db:
            db.execute(jobs.update().where(jobs.c.state == DONE, jobs.c.finished < now - result_seconds)
                       .values(state=EXPIRED, result=None))
            idempotency.expire(db, now)


def _queue_locked(db: sa.Connection) -> None:
    """Hold the queue until the transaction ends: PostgreSQL's advisory lock, SQLite's write lock."""
    if db.dialect.name == "postgresql":
        db.execute(sa.text("SELECT pg_advisory_xact_lock(:lock)"), {"lock": QUEUE_LOCK})
    else:
        db.execute(jobs.update().where(sa.false()).values(state=jobs.c.state))


def _within(db: sa.Connection, key_id: int, queued_jobs: int, key_jobs: int) -> None:
    queued = db.execute(sa.select(sa.func.count()).select_from(jobs).where(jobs.c.state == QUEUED)).scalar_one()
    if queued >= queued_jobs:
        raise ApiError(503, "busy", f"the job queue is full ({queued_jobs} jobs); retry later",
                       {"Retry-After": str(RETRY_SECONDS)})
    mine = db.execute(sa.select(sa.func.count()).select_from(jobs)
                      .where(jobs.c.key_id == key_id, jobs.c.state.in_(LIVE))).scalar_one()
    if mine >= key_jobs:
        raise ApiError(429, "too_many_jobs", f"this key has {mine} jobs queued or running, its limit: wait for one "
                                             "to finish, or cancel one", {"Retry-After": str(RETRY_SECONDS)})


def _private(database: Path) -> None:
    """The SQLite file (keys' digests, uploads, results) readable by its owner only; SQLite makes its
    WAL and shared-memory files with the same mode."""
    database.touch(mode=0o600, exist_ok=True)
    database.chmod(0o600)


def _sqlite_pragmas(connection, _record) -> None:
    """Readers do not wait for a writer (WAL); a writer waits for another up to 30 s."""
    cursor = connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.close()
