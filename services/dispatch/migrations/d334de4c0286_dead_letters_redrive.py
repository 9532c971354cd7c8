"""dead letters drained from the broker, re-drivable

Revision ID: d334de4c0286
Revises: aaf0e5ee13b2
Create Date: 2026-12-01 06:00:00.000000
"""

from collections.abc import Sequence

from shared.outbox_migrations import (
    dead_letters_redrive_downgrade,
    dead_letters_redrive_upgrade,
)

revision: str = "d334de4c0286"
down_revision: str | None = "aaf0e5ee13b2"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    dead_letters_redrive_upgrade()


def downgrade() -> None:
    dead_letters_redrive_downgrade()
