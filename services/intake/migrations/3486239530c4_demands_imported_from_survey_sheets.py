"""demands imported from survey sheets

``demand_imports``: each demand a 科技体检 survey sheet yielded, by the SHA-256 of the
row's demand and the jurisdiction it was filed in — a re-import finds it and makes none.

Revision ID: 3486239530c4
Revises: 85ba3aa9fe06
Create Date: 2026-12-01 18:00:41.335691
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "3486239530c4"
down_revision: str | None = "85ba3aa9fe06"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "demand_imports",
        sa.Column("row_sha256", sa.String(length=64), nullable=False),
        sa.Column("demand_code", sa.String(length=40), nullable=False),
        sa.Column("imported_by", sa.String(length=100), nullable=False),
        sa.Column("imported_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("row_sha256"),
    )


def downgrade() -> None:
    op.drop_table("demand_imports")
