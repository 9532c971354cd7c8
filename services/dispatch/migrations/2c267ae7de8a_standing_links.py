"""Standing 包保 links: every enterprise's current link (``standing_links``: department,
named person, basis rule:<segment>/explicit, version) and every version kept
(``standing_link_history``, with ``until``); the enterprise copy keeps its technology
field (a segment). Enterprises already known get their link when the dispatch worker
starts (``standing.link_unlinked``).

Revision ID: 2c267ae7de8a
Revises: 294d07106dfd
Create Date: 2026-12-01 17:54:09.334703
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "2c267ae7de8a"
down_revision: str | None = "294d07106dfd"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "standing_link_history",
        sa.Column("credit_code", sa.String(length=18), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("department_id", sa.String(length=40), nullable=True),
        sa.Column("staff_id", sa.String(length=40), nullable=True),
        sa.Column("basis", sa.String(length=160), nullable=False),
        sa.Column("since", sa.DateTime(timezone=True), nullable=False),
        sa.Column("until", sa.DateTime(timezone=True), nullable=True),
        sa.Column("by", sa.String(length=120), nullable=False),
        sa.Column("reason", sa.String(length=500), nullable=False),
        sa.PrimaryKeyConstraint("credit_code", "version"),
    )
    op.create_table(
        "standing_links",
        sa.Column("credit_code", sa.String(length=18), nullable=False),
        sa.Column("jurisdiction", sa.String(length=40), nullable=False),
        sa.Column("department_id", sa.String(length=40), nullable=True),
        sa.Column("staff_id", sa.String(length=40), nullable=True),
        sa.Column("basis", sa.String(length=160), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("since", sa.DateTime(timezone=True), nullable=False),
        sa.Column("by", sa.String(length=120), nullable=False),
        sa.Column("reason", sa.String(length=500), nullable=False),
        sa.PrimaryKeyConstraint("credit_code"),
    )
    with op.batch_alter_table("standing_links", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_standing_links_department_id"), ["department_id"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_standing_links_jurisdiction"), ["jurisdiction"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_standing_links_staff_id"), ["staff_id"], unique=False)

    with op.batch_alter_table("enterprises", schema=None) as batch_op:
        batch_op.add_column(sa.Column("technology_field", sa.String(length=100), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("enterprises", schema=None) as batch_op:
        batch_op.drop_column("technology_field")

    with op.batch_alter_table("standing_links", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_standing_links_staff_id"))
        batch_op.drop_index(batch_op.f("ix_standing_links_jurisdiction"))
        batch_op.drop_index(batch_op.f("ix_standing_links_department_id"))

    op.drop_table("standing_links")
    op.drop_table("standing_link_history")
