"""payroll runs say how their plans are funded: after the platform records them, or by the payer's
wallet recording and funding them at once

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
    # A plain ADD COLUMN (SQLite takes one with a constant default): a batch would copy the table the
    # plans refer to.
    op.add_column("payroll_runs", sa.Column("funding", sa.String(16), nullable=False, server_default="after_recording"))


def downgrade() -> None:
    with op.batch_alter_table("payroll_runs") as batch:
        batch.drop_column("funding")
