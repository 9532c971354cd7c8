"""API keys gain an end (a rotated key's overlap) and scopes

Revision ID: 24113211747e
Revises: b65d8cfec443
Create Date: 2026-12-01 09:00:00.000000
"""

from collections.abc import Sequence

from shared.outbox_migrations import api_keys_expiry_downgrade, api_keys_expiry_upgrade

revision: str = "24113211747e"
down_revision: str | None = "b65d8cfec443"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    api_keys_expiry_upgrade()


def downgrade() -> None:
    api_keys_expiry_downgrade()
