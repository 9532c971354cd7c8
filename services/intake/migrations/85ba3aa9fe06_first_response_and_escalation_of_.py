"""first response and escalation of demands; response hours of time limits

A demand gets ``respond_by`` (its first-response limit) when it is accepted and
``responded_at`` at the owner's first screening or move; ``escalated_at``/``escalated_to``
record dispatch's escalation to the responsible leader. Demands accepted before this
revision have no first-response limit (``respond_by`` stays empty). ``response_hours``
of a jurisdiction's time limits: empty means the default (4 working hours).

Revision ID: 85ba3aa9fe06
Revises: 7cd8013667fd
Create Date: 2026-12-01 17:49:37.562397
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "85ba3aa9fe06"
down_revision: str | None = "7cd8013667fd"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("demands", schema=None) as batch_op:
        batch_op.add_column(sa.Column("respond_by", sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column("responded_at", sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column("escalated_at", sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column("escalated_to", sa.String(length=200), nullable=True))

    with op.batch_alter_table("time_limit_rules", schema=None) as batch_op:
        batch_op.add_column(sa.Column("response_hours", sa.Integer(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("time_limit_rules", schema=None) as batch_op:
        batch_op.drop_column("response_hours")

    with op.batch_alter_table("demands", schema=None) as batch_op:
        batch_op.drop_column("escalated_to")
        batch_op.drop_column("escalated_at")
        batch_op.drop_column("responded_at")
        batch_op.drop_column("respond_by")
