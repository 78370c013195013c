"""amendments: each plan keeps the texts of every materials list it was signed with, and removing an
instalment bumps its plan's version

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-30 19:00:00

- plans.materials: materials hash (hex) -> the required materials and the verification text it is the
  hash of. The chain holds only the hash; the projection takes the words from here whenever an
  instalment's hash changes (an amendment, or a rebuild after a reorg puts the recorded terms back).
- An amendment may shorten a plan: deleting an instalment row bumps plans.version like inserting and
  updating one do (migration 0002), so a kept representation of the plan is never served stale.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

SQLITE_TRIGGER = """CREATE TRIGGER plans_version_on_instalment_delete AFTER DELETE ON instalments
   BEGIN UPDATE plans SET version = version + 1 WHERE id = OLD.plan_id; END"""
POSTGRESQL = [
    """CREATE FUNCTION daifa_removed_instalment_plan_version() RETURNS trigger AS $$
       BEGIN
         UPDATE plans SET version = version + 1 WHERE id = OLD.plan_id;
         RETURN NULL;
       END $$ LANGUAGE plpgsql""",
    """CREATE TRIGGER plans_version_on_instalment_delete AFTER DELETE ON instalments
       FOR EACH ROW EXECUTE FUNCTION daifa_removed_instalment_plan_version()""",
]


def upgrade() -> None:
    with op.batch_alter_table("plans") as batch:
        batch.add_column(sa.Column("materials", sa.JSON(), nullable=False, server_default="{}"))
    if op.get_context().dialect.name == "sqlite":
        op.execute(SQLITE_TRIGGER)
    else:
        for statement in POSTGRESQL:
            op.execute(statement)


def downgrade() -> None:
    if op.get_context().dialect.name == "sqlite":
        op.execute("DROP TRIGGER plans_version_on_instalment_delete")
    else:
        op.execute("DROP TRIGGER plans_version_on_instalment_delete ON instalments")
        op.execute("DROP FUNCTION daifa_removed_instalment_plan_version()")
    with op.batch_alter_table("plans") as batch:
        batch.drop_column("materials")
