"""Billing: monthly quotas on keys, the calls ledger, idempotency keys, shared rate buckets.

Jobs still waiting or running at the upgrade get their pending ledger row, so they are billed
when they finish.
"""

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"

LIVE_JOBS = ("queued", "running", "cancelling")


def upgrade() -> None:
    op.add_column("keys", sa.Column("monthly_calls", sa.Integer))
    op.add_column("keys", sa.Column("monthly_megapixels", sa.Float))
    calls = op.create_table(
        "calls",
        sa.Column("id", sa.String(32), primary_key=True),
        sa.Column("key_id", sa.Integer, nullable=False),
        sa.Column("method", sa.String(32), nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("code", sa.String(64)),
        sa.Column("megapixels", sa.Float, nullable=False),
        sa.Column("seconds", sa.Float, nullable=False),
        sa.Column("created", sa.Float, nullable=False),
        sa.Column("ended", sa.Float),
    )
    op.create_index("ix_calls_key_id_state", "calls", ["key_id", "state"])
    op.create_table(
        "idempotency",
        sa.Column("key_id", sa.Integer, primary_key=True),
        sa.Column("token", sa.String(255), primary_key=True),
        sa.Column("fingerprint", sa.String(64), nullable=False),
        sa.Column("owner", sa.String(32), nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("created", sa.Float, nullable=False),
        sa.Column("expires", sa.Float, nullable=False),
        sa.Column("status", sa.Integer),
        sa.Column("headers", sa.Text),
        sa.Column("body", sa.LargeBinary),
        sa.Column("job_id", sa.String(32)),
    )
    op.create_index("ix_idempotency_expires", "idempotency", ["expires"])
    op.create_table(
        "rate_buckets",
        sa.Column("key_id", sa.Integer, primary_key=True),
        sa.Column("tokens", sa.Float, nullable=False),
        sa.Column("updated", sa.Float, nullable=False),
    )
    jobs = sa.table("jobs", sa.column("id"), sa.column("key_id"), sa.column("method"), sa.column("state"),
                    sa.column("created"))
    live = sa.select(jobs.c.id, jobs.c.key_id, jobs.c.method, sa.literal("pending"), sa.literal(0.0),
                     sa.literal(0.0), jobs.c.created).where(jobs.c.state.in_(LIVE_JOBS))
    op.execute(calls.insert().from_select(
        ["id", "key_id", "method", "state", "megapixels", "seconds", "created"], live))


def downgrade() -> None:
    for table in ("rate_buckets", "idempotency", "calls"):
        op.drop_table(table)
    with op.batch_alter_table("keys") as keys:
        keys.drop_column("monthly_megapixels")
        keys.drop_column("monthly_calls")
