"""dead letters drained from the broker, re-drivable

Revision ID: b1bd635f49a4
Revises: e05385e9cbbc
Create Date: 2026-12-01 06:00:00.000000
"""

from collections.abc import Sequence

from shared.outbox_migrations import (
    dead_letters_redrive_downgrade,
    dead_letters_redrive_upgrade,
)

revision: str = "b1bd635f49a4"
down_revision: str | None = "e05385e9cbbc"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    dead_letters_redrive_upgrade()


def downgrade() -> None:
    dead_letters_redrive_downgrade()
