"""unit codes as deep as the tree

Revision ID: 50a780d0ea93
Revises: 8ca0e26885c0
Create Date: 2026-12-01 08:27:26.411078
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "50a780d0ea93"
down_revision: str | None = "8ca0e26885c0"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


# Every column holding a unit code (at most 27 characters, ``630102001-P0001-S0001-W0001``) or a
# demand code that embeds one (at most 39): table → column → (its width before, nullable).
WIDENED: dict[str, dict[str, tuple[int, bool]]] = {
    "agencies": {"jurisdiction": (6, False)},
    "alliance_rules": {"city": (6, False)},
    "alliances": {"city": (6, False)},
    "assignments": {"city": (6, True), "demand_code": (20, False), "jurisdiction": (6, False)},
    "blacklist": {"city": (6, False)},
    "breaches": {"demand_code": (20, False), "jurisdiction": (6, False)},
    "decisions": {"city": (6, False), "demand_code": (20, False), "jurisdiction": (6, False)},
    "departments": {"jurisdiction": (6, False)},
    "enterprises": {"jurisdiction": (6, False)},
    "menu_items": {"city": (6, False)},
    "month_closes": {"city": (6, False)},
    "rotation_pointers": {"city": (6, False)},
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
