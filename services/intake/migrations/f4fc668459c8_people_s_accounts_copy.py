"""People's accounts: the service's copy, from the directory's person events

Revision ID: f4fc668459c8
Revises: bb7c4db29a8f
Create Date: 2026-12-01 11:00:00.000000
"""

from collections.abc import Sequence

from shared.outbox_migrations import accounts_copy_downgrade, accounts_copy_upgrade

revision: str = "f4fc668459c8"
down_revision: str | None = "bb7c4db29a8f"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    accounts_copy_upgrade()


def downgrade() -> None:
    accounts_copy_downgrade()
