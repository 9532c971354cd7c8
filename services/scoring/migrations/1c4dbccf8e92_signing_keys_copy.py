"""the service's copy of the keys people's access tokens are signed with

Revision ID: 1c4dbccf8e92
Revises: 27fe8b4e5f71
Create Date: 2026-12-01 08:40:00.000000
"""

from collections.abc import Sequence

from shared.outbox_migrations import signing_keys_copy_downgrade, signing_keys_copy_upgrade

revision: str = "1c4dbccf8e92"
down_revision: str | None = "27fe8b4e5f71"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    signing_keys_copy_upgrade()


def downgrade() -> None:
    signing_keys_copy_downgrade()
