"""the service's own copy of the directory: unit tree and API keys

Revision ID: e453e5e3ebae
Revises: 9f890d7abea2
Create Date: 2026-12-01 08:30:00.000000
"""

from collections.abc import Sequence

from shared.outbox_migrations import directory_copy_downgrade, directory_copy_upgrade

revision: str = "e453e5e3ebae"
down_revision: str | None = "9f890d7abea2"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    directory_copy_upgrade()


def downgrade() -> None:
    directory_copy_downgrade()
