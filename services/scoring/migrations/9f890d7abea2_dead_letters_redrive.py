"""dead letters drained from the broker, re-drivable

Revision ID: 9f890d7abea2
Revises: e5089d46d701
Create Date: 2026-12-01 06:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "9f890d7abea2"
down_revision: str | None = "e5089d46d701"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # Rows recorded before this revision are kept; each gets its own digest (its id).
    with op.batch_alter_table("dead_letters", schema=None) as batch_op:
        batch_op.add_column(sa.Column("digest", sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column("headers", sa.Text(), server_default="{}", nullable=False))
        batch_op.add_column(
            sa.Column("status", sa.String(length=20), server_default="dead", nullable=False)
        )
        batch_op.add_column(sa.Column("times", sa.Integer(), server_default="1", nullable=False))
        batch_op.add_column(sa.Column("redriven_at", sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column("redriven_by", sa.String(length=200), nullable=True))
    op.execute(
        "UPDATE dead_letters SET digest = 'legacy-' || CAST(id AS VARCHAR(40)) WHERE digest IS NULL"
    )
    with op.batch_alter_table("dead_letters", schema=None) as batch_op:
        batch_op.alter_column("digest", existing_type=sa.String(length=64), nullable=False)
        batch_op.create_index(batch_op.f("ix_dead_letters_status"), ["status"], unique=False)
        batch_op.create_unique_constraint("uq_dead_letters_queue_digest", ["queue", "digest"])


def downgrade() -> None:
    with op.batch_alter_table("dead_letters", schema=None) as batch_op:
        batch_op.drop_constraint("uq_dead_letters_queue_digest", type_="unique")
        batch_op.drop_index(batch_op.f("ix_dead_letters_status"))
        batch_op.drop_column("redriven_by")
        batch_op.drop_column("redriven_at")
        batch_op.drop_column("times")
        batch_op.drop_column("status")
        batch_op.drop_column("headers")
        batch_op.drop_column("digest")
