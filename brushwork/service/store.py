"""Keys, jobs and usage in one database: SQLite by default, PostgreSQL when replicas share it.

Only a key's SHA-256 is stored. A job keeps its uploaded files and, once done, its result, so any
replica can answer for it and it survives a restart. A job is claimed with a compare-and-set
(``UPDATE ... WHERE state = 'queued'``), so two replicas never run the same job.
"""

from __future__ import annotations

import hashlib
import json
import secrets
import time
import uuid
from dataclasses import dataclass
from datetime import datetime, timezone

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite

KEY_PREFIX = "bw_"
LOCAL_KEY = 0
"""The owner of every call while the database holds no key (a loopback-only server)."""
ATTEMPTS = 2
"""A job is run at most this often: once, and once more if its server died while running it."""
QUEUED, RUNNING, CANCELLING = "queued", "running", "cancelling"
DONE, FAILED, CANCELLED, EXPIRED = "done", "failed", "cancelled", "expired"

metadata = sa.MetaData()
keys = sa.Table(
    "keys", metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("name", sa.String(200), nullable=False),
    sa.Column("prefix", sa.String(16), nullable=False),
    sa.Column("digest", sa.String(64), nullable=False, unique=True),
    sa.Column("created", sa.Float, nullable=False),
    sa.Column("revoked", sa.Float),
)
jobs = sa.Table(
    "jobs", metadata,
    sa.Column("id", sa.String(32), primary_key=True),
    sa.Column("key_id", sa.Integer, nullable=False, index=True),
    sa.Column("state", sa.String(16), nullable=False, index=True),
    sa.Column("method", sa.String(32), nullable=False),
    sa.Column("fields", sa.Text, nullable=False),
    sa.Column("progress", sa.Float, nullable=False, default=0.0),
    sa.Column("error", sa.Text),
    sa.Column("attempts", sa.Integer, nullable=False, default=0),
    sa.Column("worker", sa.String(64)),
    sa.Column("created", sa.Float, nullable=False),
    sa.Column("started", sa.Float),
    sa.Column("finished", sa.Float),
    sa.Column("heartbeat", sa.Float),
    sa.Column("media_type", sa.String(32)),
    sa.Column("result", sa.LargeBinary),
)
job_files = sa.Table(
    "job_files", metadata,
    sa.Column("job_id", sa.String(32), sa.ForeignKey("jobs.id", ondelete="CASCADE"), primary_key=True),
    sa.Column("position", sa.Integer, primary_key=True),
    sa.Column("field", sa.String(16), nullable=False),
    sa.Column("filename", sa.Text, nullable=False),
    sa.Column("data", sa.LargeBinary, nullable=False),
)
usage = sa.Table(
    "usage", metadata,
    sa.Column("key_id", sa.Integer, primary_key=True),
    sa.Column("day", sa.String(10), primary_key=True),
    sa.Column("method", sa.String(32), primary_key=True),
    sa.Column("calls", sa.Integer, nullable=False),
    sa.Column("megapixels", sa.Float, nullable=False),
    sa.Column("seconds", sa.Float, nullable=False),
)


@dataclass(frozen=True)
class Key:
    id: int
    name: str
    prefix: str
    created: float
    revoked: float | None


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


JOB_COLUMNS = [column for column in jobs.c if column.name != "result"]


class Store:
    """The service's database at ``url`` (an SQLAlchemy URL); tables are made on first use."""

    def __init__(self, url: str):
        self.engine = sa.create_engine(url, pool_pre_ping=True)
        if self.engine.dialect.name == "sqlite":
            sa.event.listen(self.engine, "connect", _sqlite_pragmas)
        metadata.create_all(self.engine)

    def _upsert(self):
        return (postgresql if self.engine.dialect.name == "postgresql" else sqlite).insert

    # keys
    def add_key(self, name: str) -> str:
        """A new random key for ``name``; only its digest is kept, so this is the one time it is seen."""
        token = KEY_PREFIX + secrets.token_urlsafe(32)
        with self.engine.begin() as db:
            db.execute(keys.insert().values(name=name, prefix=token[:8], digest=digest(token), created=time.time()))
        return token

    def keys(self) -> list[Key]:
        with self.engine.connect() as db:
            rows = db.execute(sa.select(keys).order_by(keys.c.id))
            return [Key(row.id, row.name, row.prefix, row.created, row.revoked) for row in rows]

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
        return None if row is None else Key(row.id, row.name, row.prefix, row.created, row.revoked)

    # usage
    def count(self, key_id: int, method: str, megapixels: float, seconds: float) -> None:
        """Add one call to ``key_id``'s usage of ``method`` today (UTC)."""
        day = datetime.now(timezone.utc).strftime("%Y-%m-%d")
        insert = self._upsert()(usage).values(key_id=key_id, day=day, method=method, calls=1,
                                              megapixels=megapixels, seconds=seconds)
        with self.engine.begin() as db:
            db.execute(insert.on_conflict_do_update(
                index_elements=[usage.c.key_id, usage.c.day, usage.c.method],
                set_={"calls": usage.c.calls + 1, "megapixels": usage.c.megapixels + megapixels,
                      "seconds": usage.c.seconds + seconds},
            ))

    def usage(self, key_id: int) -> list[dict]:
        with self.engine.connect() as db:
            rows = db.execute(sa.select(usage).where(usage.c.key_id == key_id).order_by(usage.c.day, usage.c.method))
            return [{"day": row.day, "method": row.method, "calls": row.calls,
                     "megapixels": round(row.megapixels, 6), "seconds": round(row.seconds, 3)} for row in rows]

    # jobs
    def add_job(self, key_id: int, method: str, fields: dict, uploads: list[Upload]) -> Job:
        """Queue a job; returns it as stored."""
        job = Job(uuid.uuid4().hex, key_id, QUEUED, method, fields, 0.0, None, 0, time.time(), None, None, None)
        job_id = job.id
        with self.engine.begin() as db:
            db.execute(jobs.insert().values(id=job_id, key_id=key_id, state=QUEUED, method=method,
                                            fields=json.dumps(fields), progress=0.0, attempts=0, created=job.created))
            if uploads:
                db.execute(job_files.insert(), [
                    {"job_id": job_id, "position": n, "field": u.field, "filename": u.filename, "data": u.data}
                    for n, u in enumerate(uploads)
                ])
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

    def finish(self, job_id: str, result: bytes, media_type: str) -> None:
        with self.engine.begin() as db:
            db.execute(jobs.update().where(jobs.c.id == job_id, jobs.c.state.in_([RUNNING, CANCELLING])).values(
                state=DONE, progress=1.0, finished=time.time(), result=result, media_type=media_type))
            db.execute(job_files.delete().where(job_files.c.job_id == job_id))

    def end(self, job_id: str, state: str, error: str | None = None) -> None:
        """End a job as ``failed`` or ``cancelled``; its uploads are dropped."""
        with self.engine.begin() as db:
            db.execute(jobs.update().where(jobs.c.id == job_id).values(state=state, error=error, finished=time.time()))
            db.execute(job_files.delete().where(job_files.c.job_id == job_id))

    def cancel(self, job_id: str) -> str:
        """Cancel a job: a queued one at once, a running one at its next step (``cancelling``); a
        finished one is deleted with its result. Returns the state it is left in (``deleted``)."""
        with self.engine.begin() as db:
            state = db.execute(sa.select(jobs.c.state).where(jobs.c.id == job_id)).scalar_one()
            if state == QUEUED:
                db.execute(jobs.update().where(jobs.c.id == job_id, jobs.c.state == QUEUED)
                           .values(state=CANCELLED, finished=time.time()))
                db.execute(job_files.delete().where(job_files.c.job_id == job_id))
                return CANCELLED
            if state in (RUNNING, CANCELLING):
                db.execute(jobs.update().where(jobs.c.id == job_id).values(state=CANCELLING))
                return CANCELLING
            db.execute(job_files.delete().where(job_files.c.job_id == job_id))
            db.execute(jobs.delete().where(jobs.c.id == job_id))
            return "deleted"

    def requeue(self, job_id: str) -> None:
        """Give back a job this server stops running (it is shutting down): queued again, the attempt
        not counted; one being cancelled is cancelled."""
        with self.engine.begin() as db:
            db.execute(jobs.update().where(jobs.c.id == job_id, jobs.c.state == RUNNING).values(
                state=QUEUED, worker=None, progress=0.0, attempts=jobs.c.attempts - 1))
            db.execute(jobs.update().where(jobs.c.id == job_id, jobs.c.state == CANCELLING)
                       .values(state=CANCELLED, finished=time.time()))

    def recover(self, lease_seconds: float) -> None:
        """Jobs whose server stopped beating for ``lease_seconds``: queued again while they have
        attempts left, else failed; a ``cancelling`` one is cancelled."""
        stale = jobs.c.heartbeat < time.time() - lease_seconds
        with self.engine.begin() as db:
            db.execute(jobs.update().where(stale, jobs.c.state == CANCELLING)
                       .values(state=CANCELLED, finished=time.time()))
            db.execute(jobs.update().where(stale, jobs.c.state == RUNNING, jobs.c.attempts < ATTEMPTS)
                       .values(state=QUEUED, worker=None, progress=0.0))
            db.execute(jobs.update().where(stale, jobs.c.state == RUNNING).values(
                state=FAILED, finished=time.time(),
                error=f"the server running this job stopped {ATTEMPTS} times; submit it again"))

    def expire(self, result_seconds: float) -> None:
        """Drop the results of jobs that finished more than ``result_seconds`` ago."""
        with self.engine.begin() as db:
            db.execute(jobs.update().where(jobs.c.state == DONE, jobs.c.finished < time.time() - result_seconds)
                       .values(state=EXPIRED, result=None))


def _sqlite_pragmas(connection, _record) -> None:
    """Readers do not wait for a writer (WAL); a writer waits for another up to 30 s."""
    cursor = connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.close()
