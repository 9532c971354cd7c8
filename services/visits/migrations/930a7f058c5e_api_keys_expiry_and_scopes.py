"""API keys gain an end (a rotated key's overlap) and scopes

Revision ID: 930a7f058c5e
Revises: 3edc56c612b0
Create Date: 2026-12-01 09:00:00.000000
"""

from collections.abc import Sequence

from shared.outbox_migrations import api_keys_expiry_downgrade, api_keys_expiry_upgrade

revision: str = "930a7f058c5e"
down_revision: str | None = "3edc56c612b0"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    api_keys_expiry_upgrade()


def downgrade() -> None:
    api_keys_expiry_downgrade()
