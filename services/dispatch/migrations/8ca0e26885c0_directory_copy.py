"""the service's own copy of the directory: unit tree and API keys

Revision ID: 8ca0e26885c0
Revises: d334de4c0286
Create Date: 2026-12-01 08:30:00.000000
"""

from collections.abc import Sequence

from shared.outbox_migrations import directory_copy_downgrade, directory_copy_upgrade

revision: str = "8ca0e26885c0"
down_revision: str | None = "d334de4c0286"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    directory_copy_upgrade()


def downgrade() -> None:
    directory_copy_downgrade()
