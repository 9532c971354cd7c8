"""the service's copy of the keys people's access tokens are signed with

Revision ID: 3edc56c612b0
Revises: adbc68996755
Create Date: 2026-12-01 08:40:00.000000
"""

from collections.abc import Sequence

from shared.outbox_migrations import signing_keys_copy_downgrade, signing_keys_copy_upgrade

revision: str = "3edc56c612b0"
down_revision: str | None = "adbc68996755"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    signing_keys_copy_upgrade()


def downgrade() -> None:
    signing_keys_copy_downgrade()
