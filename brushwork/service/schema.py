"""The service's tables. Alembic owns how a database gets here (``migrations/``); a change to a
table is a new revision there as well as a change here.

- ``keys``: only a key's SHA-256 is stored; a key may have monthly quotas.
- ``jobs`` and ``job_files``: the queue, with each job's uploads until it ends and its result after.
- ``calls``: the ledger, one row per call that reached painting or was refused on the way there,
  ``pending`` until it is billed, or ended unbilled as failed, refused or cancelled.
- ``usage``: the billed calls summed per key, UTC day and method (what invoices are made of).
- ``idempotency``: a client's ``Idempotency-Key`` and the answer it got.
- ``rate_buckets``: each key's token bucket, shared by every server of the database.
"""

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite

metadata = sa.MetaData()

keys = sa.Table(
    "keys", metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("name", sa.String(200), nullable=False),
    sa.Column("prefix", sa.String(16), nullable=False),
    sa.Column("digest", sa.String(64), nullable=False, unique=True),
    sa.Column("created", sa.Float, nullable=False),
    sa.Column("revoked", sa.Float),
    sa.Column("monthly_calls", sa.Integer),
    sa.Column("monthly_megapixels", sa.Float),
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
calls = sa.Table(
    "calls", metadata,
    sa.Column("id", sa.String(32), primary_key=True),
    sa.Column("key_id", sa.Integer, nullable=False),
    sa.Column("method", sa.String(32), nullable=False),
    sa.Column("state", sa.String(16), nullable=False),
    sa.Column("code", sa.String(64)),
    sa.Column("megapixels", sa.Float, nullable=False),
    sa.Column("seconds", sa.Float, nullable=False, default=0.0),
    sa.Column("created", sa.Float, nullable=False),
    sa.Column("ended", sa.Float),
    sa.Index("ix_calls_key_id_state", "key_id", "state"),
)
idempotency = sa.Table(
    "idempotency", metadata,
    sa.Column("key_id", sa.Integer, primary_key=True),
    sa.Column("token", sa.String(255), primary_key=True),
    sa.Column("fingerprint", sa.String(64), nullable=False),
    sa.Column("owner", sa.String(32), nullable=False),
    sa.Column("state", sa.String(16), nullable=False),
    sa.Column("created", sa.Float, nullable=False),
    sa.Column("expires", sa.Float, nullable=False, index=True),
    sa.Column("status", sa.Integer),
    sa.Column("headers", sa.Text),
    sa.Column("body", sa.LargeBinary),
    sa.Column("job_id", sa.String(32)),
)
rate_buckets = sa.Table(
    "rate_buckets", metadata,
    sa.Column("key_id", sa.Integer, primary_key=True),
    sa.Column("tokens", sa.Float, nullable=False),
    sa.Column("updated", sa.Float, nullable=False),
)


def insert(db: sa.Connection):
    """The dialect's ``insert``, which has ``on_conflict_do_nothing`` and ``on_conflict_do_update``."""
    return (postgresql if db.dialect.name == "postgresql" else sqlite).insert
