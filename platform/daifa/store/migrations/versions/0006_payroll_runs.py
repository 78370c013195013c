"""payroll runs: a payer's file of plans, and the plans that came from it

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-30 20:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from daifa.store.models import UtcDateTime

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "payroll_runs",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("payer_id", sa.Integer(), sa.ForeignKey("parties.id"), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("filename", sa.String(200), nullable=False),
        sa.Column("rows", sa.Integer(), nullable=False),
        sa.Column("created_plans", sa.Integer(), nullable=False),
        sa.Column("time_zone", sa.String(64), nullable=False),
        sa.Column("release_time", sa.String(8), nullable=False),
        sa.Column("file", sa.LargeBinary(), nullable=False),
        sa.Column("file_hash", sa.LargeBinary(32), nullable=False),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("created_at", UtcDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", UtcDateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_payroll_runs_payer_id", "payroll_runs", ["payer_id"])
    op.create_index("ix_payroll_runs_status", "payroll_runs", ["status"])
    if op.get_context().dialect.name == "sqlite":
        # ADD COLUMN with its reference, not a batch: a batch copies the plans table, which the version
        # triggers of migration 0002 name, and Alembic adds no reference to SQLite otherwise.
        op.execute("ALTER TABLE plans ADD COLUMN payroll_run_id INTEGER REFERENCES payroll_runs (id)")
    else:
        column = sa.Column("payroll_run_id", sa.Integer(), sa.ForeignKey("payroll_runs.id"), nullable=True)
        op.add_column("plans", column)
    op.create_index("ix_plans_payroll_run_status", "plans", ["payroll_run_id", "status"])


def downgrade() -> None:
    op.drop_index("ix_plans_payroll_run_status", "plans")
    with op.batch_alter_table("plans") as batch:
        batch.drop_column("payroll_run_id")
    op.drop_index("ix_payroll_runs_status", "payroll_runs")
    op.drop_index("ix_payroll_runs_payer_id", "payroll_runs")
    op.drop_table("payroll_runs")
