"""unit codes as deep as the tree

Revision ID: 27fe8b4e5f71
Revises: e453e5e3ebae
Create Date: 2026-12-01 08:27:28.187086
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "27fe8b4e5f71"
down_revision: str | None = "e453e5e3ebae"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


# Every column holding a unit code (at most 27 characters, ``630102001-P0001-S0001-W0001``) or a
# demand code that embeds one (at most 39): table → column → (its width before, nullable).
WIDENED: dict[str, dict[str, tuple[int, bool]]] = {
    "demand_facts": {"demand_code": (20, False), "jurisdiction": (6, False)},
    "demand_owners": {"demand_code": (20, False), "jurisdiction": (6, False)},
    "enterprises": {"jurisdiction": (6, False)},
    "manual_records": {"jurisdiction": (6, False)},
    "owner_history": {"demand_code": (20, False)},
    "rule_sets": {"jurisdiction": (6, False)},
    "tally_records": {"demand_code": (20, True), "jurisdiction": (6, False)},
    "units": {"jurisdiction": (6, False)},
    "visit_enterprises": {"jurisdiction": (6, False)},
}
WIDTH = 40


def _alter(narrow: bool) -> None:
    for table, columns in WIDENED.items():
        with op.batch_alter_table(table, schema=None) as batch_op:
            for column, (before, nullable) in columns.items():
                old, new = (WIDTH, before) if narrow else (before, WIDTH)
                batch_op.alter_column(
                    column,
                    existing_type=sa.String(length=old),
                    type_=sa.String(length=new),
                    existing_nullable=nullable,
                )


def upgrade() -> None:
    _alter(narrow=False)


def downgrade() -> None:
    """Narrows back; PostgreSQL refuses (22001) while a longer code is stored."""
    _alter(narrow=True)
