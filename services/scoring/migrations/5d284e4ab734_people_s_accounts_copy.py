"""People's accounts: the service's copy, from the directory's person events

Revision ID: 5d284e4ab734
Revises: 85d4f82604c7
Create Date: 2026-12-01 11:00:00.000000
"""

from collections.abc import Sequence

from shared.outbox_migrations import accounts_copy_downgrade, accounts_copy_upgrade

revision: str = "5d284e4ab734"
down_revision: str | None = "85d4f82604c7"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    accounts_copy_upgrade()


def downgrade() -> None:
    accounts_copy_downgrade()
