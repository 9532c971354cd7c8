"""the service's copy of the keys people's access tokens are signed with

Revision ID: 4063adf36be7
Revises: a75ca54ac110
Create Date: 2026-12-01 08:40:00.000000
"""

from collections.abc import Sequence

from shared.outbox_migrations import signing_keys_copy_downgrade, signing_keys_copy_upgrade

revision: str = "4063adf36be7"
down_revision: str | None = "a75ca54ac110"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    signing_keys_copy_upgrade()


def downgrade() -> None:
    signing_keys_copy_downgrade()
