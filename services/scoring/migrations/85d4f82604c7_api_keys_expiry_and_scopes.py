"""API keys gain an end (a rotated key's overlap) and scopes

Revision ID: 85d4f82604c7
Revises: 1c4dbccf8e92
Create Date: 2026-12-01 09:00:00.000000
"""

from collections.abc import Sequence

from shared.outbox_migrations import api_keys_expiry_downgrade, api_keys_expiry_upgrade

revision: str = "85d4f82604c7"
down_revision: str | None = "1c4dbccf8e92"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    api_keys_expiry_upgrade()


def downgrade() -> None:
    api_keys_expiry_downgrade()
