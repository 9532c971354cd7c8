"""first response of owner assignments

An owner assignment keeps the demand's first-response limit (``respond_by``, from
``demand.accepted``) and when the owner first responded; the deadline sweep announces
an unanswered one (level ``unanswered``). Assignments made before have neither.

Revision ID: f067877ce490
Revises: 656840aa780d
Create Date: 2026-12-01 17:50:55.195644
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "f067877ce490"
down_revision: str | None = "656840aa780d"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("assignments", schema=None) as batch_op:
        batch_op.add_column(sa.Column("respond_by", sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column("responded_at", sa.DateTime(timezone=True), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("assignments", schema=None) as batch_op:
        batch_op.drop_column("responded_at")
        batch_op.drop_column("respond_by")
