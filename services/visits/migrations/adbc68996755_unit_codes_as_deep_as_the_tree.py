"""unit codes as deep as the tree

Revision ID: adbc68996755
Revises: f4f1932848cf
Create Date: 2026-12-01 08:27:27.363329
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "adbc68996755"
down_revision: str | None = "f4f1932848cf"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


# Every column holding a unit code (at most 27 characters, ``630102001-P0001-S0001-W0001``) or a
# demand code that embeds one (at most 39): table → column → (its width before, nullable).
WIDENED: dict[str, dict[str, tuple[int, bool]]] = {
    "demands": {"code": (20, False), "jurisdiction": (6, False)},
    "enterprise_links": {"jurisdiction": (6, False), "last_demand_code": (20, False)},
    "enterprises": {"jurisdiction": (6, False)},
    "frequency_rules": {"jurisdiction": (6, False)},
    "overdue_flags": {"jurisdiction": (6, False)},
    "plans": {"jurisdiction": (6, False)},
    "stations": {"jurisdiction": (6, False)},
    "teams": {"jurisdiction": (6, False), "linked_city": (6, False)},
    "units": {"jurisdiction": (6, False)},
    "visit_demands": {"demand_code": (20, False)},
    "visit_enterprises": {"enterprise_jurisdiction": (6, False)},
    "visits": {"jurisdiction": (6, False)},
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
