"""Standing 包保 links in visits: an enterprise link may be standing (dispatch's
``responsibility.linked``, before any demand: no demand code yet, a basis), and the
newest link version applied per enterprise (``standing_versions``) so that events
arriving out of order never undo a later change.

Revision ID: ead7cab11e6a
Revises: f16c361d8c7a
Create Date: 2026-12-01 17:54:10.250776
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "ead7cab11e6a"
down_revision: str | None = "f16c361d8c7a"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "standing_versions",
        sa.Column("enterprise_credit_code", sa.String(length=18), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("department_id", sa.String(length=40), nullable=True),
        sa.Column("staff_id", sa.String(length=40), nullable=True),
        sa.Column("basis", sa.String(length=160), nullable=False),
        sa.Column("since", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("enterprise_credit_code"),
    )
    with op.batch_alter_table("enterprise_links", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("standing", sa.Boolean(), server_default=sa.false(), nullable=False)
        )
        batch_op.add_column(sa.Column("basis", sa.String(length=160), nullable=True))
        batch_op.alter_column(
            "last_demand_code", existing_type=sa.VARCHAR(length=40), nullable=True
        )


def downgrade() -> None:
    op.execute("DELETE FROM enterprise_links WHERE last_demand_code IS NULL")
    with op.batch_alter_table("enterprise_links", schema=None) as batch_op:
        batch_op.alter_column(
            "last_demand_code", existing_type=sa.VARCHAR(length=40), nullable=False
        )
        batch_op.drop_column("basis")
        batch_op.drop_column("standing")

    op.drop_table("standing_versions")
