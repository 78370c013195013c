"""signing: what a person reads beside the typed data, and signatures longer than 65 bytes

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-30 18:00:00

- signature_requests.context: the token's symbol and decimals, the parties' legal names, the agreements'
  titles and first lines, kept with each request so that a wallet screen can show them.
- signature_requests.signature holds any length: a contract wallet's (a multisig's owners' signatures).
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("signature_requests") as batch:
        batch.add_column(sa.Column("context", sa.JSON(), nullable=True))
        batch.alter_column("signature", type_=sa.LargeBinary(), existing_type=sa.LargeBinary(length=65))


def downgrade() -> None:
    with op.batch_alter_table("signature_requests") as batch:
        batch.alter_column("signature", type_=sa.LargeBinary(length=65), existing_type=sa.LargeBinary())
        batch.drop_column("context")
