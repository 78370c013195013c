"""hardening: the chain the database describes, workers' reports, event keys, key expiry, webhook health

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-30 15:00:00

- chain_identity: the chain id, genesis hash and escrow the records describe; another chain is refused.
- worker_reports: what each worker last saw (the node, its steps, the nonces), for health and metrics.
- events.key: the chain log behind an event, unique, so a log read again is never a second event.
- api_keys.label, .expires_at: keys are listed, rolled (the old one expires later) and revoked.
- outbox.retry_at: an entry the node answered with an error waits before it is tried again.
- webhook_endpoints.failures, .failing_since, .disabled_reason: endpoints that keep failing are disabled.
- an index on idempotency_records.created_at: records are dropped after 24 hours.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from daifa.store.models import UtcDateTime

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "chain_identity",
        sa.Column("escrow", sa.String(length=42), nullable=False),
        sa.Column("chain_id", sa.BigInteger(), nullable=False),
        sa.Column("genesis_hash", sa.LargeBinary(length=32), nullable=False),
        sa.Column("recorded_at", UtcDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("escrow"),
    )
    op.create_table(
        "worker_reports",
        sa.Column("name", sa.String(length=120), nullable=False),
        sa.Column("started_at", UtcDateTime(), nullable=False),
        sa.Column("updated_at", UtcDateTime(), nullable=False),
        sa.Column("report", sa.JSON(), nullable=False),
        sa.PrimaryKeyConstraint("name"),
    )
    op.create_index("ix_worker_reports_updated_at", "worker_reports", ["updated_at"], unique=False)
    with op.batch_alter_table("events") as batch:
        batch.add_column(sa.Column("key", sa.String(length=200), nullable=True))
    op.create_index("ix_events_key", "events", ["key"], unique=True)
    with op.batch_alter_table("api_keys") as batch:
        batch.add_column(sa.Column("label", sa.String(length=100), nullable=True))
        batch.add_column(sa.Column("expires_at", UtcDateTime(), nullable=True))
    op.create_index("ix_api_keys_party_id", "api_keys", ["party_id"], unique=False)
    with op.batch_alter_table("outbox") as batch:
        batch.add_column(sa.Column("retry_at", UtcDateTime(), nullable=True))
    with op.batch_alter_table("webhook_endpoints") as batch:
        batch.add_column(sa.Column("failures", sa.Integer(), server_default="0", nullable=False))
        batch.add_column(sa.Column("failing_since", UtcDateTime(), nullable=True))
        batch.add_column(sa.Column("disabled_reason", sa.Text(), nullable=True))
    op.create_index("ix_idempotency_records_created_at", "idempotency_records", ["created_at"], unique=False)


def downgrade() -> None:
    op.drop_index("ix_idempotency_records_created_at", table_name="idempotency_records")
    with op.batch_alter_table("webhook_endpoints") as batch:
        batch.drop_column("disabled_reason")
        batch.drop_column("failing_since")
        batch.drop_column("failures")
    with op.batch_alter_table("outbox") as batch:
        batch.drop_column("retry_at")
    op.drop_index("ix_api_keys_party_id", table_name="api_keys")
    with op.batch_alter_table("api_keys") as batch:
        batch.drop_column("expires_at")
        batch.drop_column("label")
    op.drop_index("ix_events_key", table_name="events")
    with op.batch_alter_table("events") as batch:
        batch.drop_column("key")
    op.drop_index("ix_worker_reports_updated_at", table_name="worker_reports")
    op.drop_table("worker_reports")
    op.drop_table("chain_identity")
