"""The lease names its owner; an unfinished answer says why it ended.

Revision ID: 0002_turn_owner
Revises: 0001_initial
Create Date: 2026-12-01
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002_turn_owner"
down_revision: str | None = "0001_initial"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("conversation") as batch:
        batch.add_column(sa.Column("turn_owner", sa.String(64), nullable=True))
    with op.batch_alter_table("message") as batch:
        batch.add_column(sa.Column("error_code", sa.String(32), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("message") as batch:
        batch.drop_column("error_code")
    with op.batch_alter_table("conversation") as batch:
        batch.drop_column("turn_owner")
