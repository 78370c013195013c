"""payroll runs say how their plans are funded (after the platform records them, or by the payer's wallet
recording and funding them at once); plans name the outbox entry that records them (alone or in a batch)

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-30 21:30:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Plain ADD COLUMNs (SQLite takes them with a constant default): a batch would copy the tables, which
    # other tables and the version triggers of migration 0002 name.
    op.add_column("payroll_runs", sa.Column("funding", sa.String(16), nullable=False, server_default="after_recording"))
    op.add_column("plans", sa.Column("record_entry_id", sa.Integer(), nullable=True))
    op.create_index("ix_plans_record_entry_id", "plans", ["record_entry_id"])
    # Plans already being recorded were queued one a transaction, with their own subject: name that entry,
    # so the worker does not queue them again.
    op.execute(
        "UPDATE plans SET record_entry_id = (SELECT max(outbox.id) FROM outbox WHERE outbox.kind = 'record_plan' "
        "AND outbox.subject = 'plan:' || plans.id) WHERE status IN ('recording', 'recorded', 'completed')"
    )


def downgrade() -> None:
    op.drop_index("ix_plans_record_entry_id", "plans")
    with op.batch_alter_table("plans") as batch:
        batch.drop_column("record_entry_id")
    with op.batch_alter_table("payroll_runs") as batch:
        batch.drop_column("funding")
