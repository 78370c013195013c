"""plan versions: plans.version goes up with every change to a plan or its instalments

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-27 19:25:00

Triggers rather than application code, so no writer can forget it: the API, the projection, the
scheduler's claims and a reorg rebuild all bump it.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

SQLITE = [
    # SQLite cannot change NEW in a BEFORE trigger; its triggers do not fire themselves again (no
    # recursive_triggers), and the WHEN keeps an instalment's bump from counting twice.
    """CREATE TRIGGER plans_version_on_update AFTER UPDATE ON plans WHEN NEW.version = OLD.version
       BEGIN UPDATE plans SET version = OLD.version + 1 WHERE id = NEW.id; END""",
    """CREATE TRIGGER plans_version_on_instalment_insert AFTER INSERT ON instalments
       BEGIN UPDATE plans SET version = version + 1 WHERE id = NEW.plan_id; END""",
    """CREATE TRIGGER plans_version_on_instalment_update AFTER UPDATE ON instalments
       BEGIN UPDATE plans SET version = version + 1 WHERE id = NEW.plan_id; END""",
]
POSTGRESQL = [
    """CREATE FUNCTION daifa_plan_version() RETURNS trigger AS $$
       BEGIN
         IF NEW.version = OLD.version THEN NEW.version := OLD.version + 1; END IF;
         RETURN NEW;
       END $$ LANGUAGE plpgsql""",
    """CREATE TRIGGER plans_version_on_update BEFORE UPDATE ON plans
       FOR EACH ROW EXECUTE FUNCTION daifa_plan_version()""",
    """CREATE FUNCTION daifa_instalment_plan_version() RETURNS trigger AS $$
       BEGIN
         UPDATE plans SET version = version + 1 WHERE id = NEW.plan_id;
         RETURN NULL;
       END $$ LANGUAGE plpgsql""",
    """CREATE TRIGGER plans_version_on_instalment AFTER INSERT OR UPDATE ON instalments
       FOR EACH ROW EXECUTE FUNCTION daifa_instalment_plan_version()""",
]


def upgrade() -> None:
    with op.batch_alter_table("plans") as batch:
        batch.add_column(sa.Column("version", sa.Integer(), server_default="0", nullable=False))
    for statement in SQLITE if op.get_context().dialect.name == "sqlite" else POSTGRESQL:
        op.execute(statement)


def downgrade() -> None:
    if op.get_context().dialect.name == "sqlite":
        for name in (
            "plans_version_on_update",
            "plans_version_on_instalment_insert",
            "plans_version_on_instalment_update",
        ):
            op.execute(f"DROP TRIGGER {name}")
    else:
        op.execute("DROP TRIGGER plans_version_on_instalment ON instalments")
        op.execute("DROP TRIGGER plans_version_on_update ON plans")
        op.execute("DROP FUNCTION daifa_instalment_plan_version()")
        op.execute("DROP FUNCTION daifa_plan_version()")
    with op.batch_alter_table("plans") as batch:
        batch.drop_column("version")
