"""Schema steps of the infrastructure tables every service database carries
(``shared.outbox``: outbox, inbox, dead letters; ``shared.directory``: the copy of the unit
tree and the API keys), called from each service's own migration chain so that the chains
make the same change the same way.

A step is never edited once released: a later change is a new function.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op


def dead_letters_redrive_upgrade() -> None:
    """Dead letters drained from the broker, one row per queue and body, re-drivable.
    Rows recorded before this step are kept; each gets its own digest (its id)."""
    with op.batch_alter_table("dead_letters", schema=None) as batch_op:
        batch_op.add_column(sa.Column("digest", sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column("headers", sa.Text(), server_default="{}", nullable=False))
        batch_op.add_column(
            sa.Column("status", sa.String(length=20), server_default="dead", nullable=False)
        )
        batch_op.add_column(sa.Column("times", sa.Integer(), server_default="1", nullable=False))
        batch_op.add_column(sa.Column("redriven_at", sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column("redriven_by", sa.String(length=200), nullable=True))
    op.execute(
        "UPDATE dead_letters SET digest = 'legacy-' || CAST(id AS VARCHAR(40)) WHERE digest IS NULL"
    )
    with op.batch_alter_table("dead_letters", schema=None) as batch_op:
        batch_op.alter_column("digest", existing_type=sa.String(length=64), nullable=False)
        batch_op.create_index(batch_op.f("ix_dead_letters_status"), ["status"], unique=False)
        batch_op.create_unique_constraint("uq_dead_letters_queue_digest", ["queue", "digest"])


def dead_letters_redrive_downgrade() -> None:
    with op.batch_alter_table("dead_letters", schema=None) as batch_op:
        batch_op.drop_constraint("uq_dead_letters_queue_digest", type_="unique")
        batch_op.drop_index(batch_op.f("ix_dead_letters_status"))
        for column in ("redriven_by", "redriven_at", "times", "status", "headers", "digest"):
            batch_op.drop_column(column)


def directory_copy_upgrade() -> None:
    """The service's own copy of the directory's unit tree and API keys (filled from the
    directory's events; ``shared.directory``)."""
    op.create_table(
        "jurisdictions",
        sa.Column("code", sa.String(length=40), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("parent", sa.String(length=40), nullable=True),
        sa.Column("level", sa.String(length=20), nullable=False),
        sa.Column("source", sa.String(length=20), server_default="gb2260", nullable=False),
        sa.Column("retired_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("successor", sa.String(length=40), nullable=True),
        sa.Column("changed_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("code"),
    )
    with op.batch_alter_table("jurisdictions", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_jurisdictions_parent"), ["parent"], unique=False)
    op.create_table(
        "api_keys",
        sa.Column("key_id", sa.String(length=16), nullable=False),
        sa.Column("secret_sha256", sa.String(length=64), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("role", sa.String(length=20), nullable=False),
        sa.Column("jurisdiction", sa.String(length=40), nullable=False),
        sa.Column("agency_id", sa.String(length=40), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("key_id"),
    )


def directory_copy_downgrade() -> None:
    op.drop_table("api_keys")
    with op.batch_alter_table("jurisdictions", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_jurisdictions_parent"))
    op.drop_table("jurisdictions")


def signing_keys_copy_upgrade() -> None:
    """The service's copy of the public keys people's access tokens are signed with
    (``shared.directory``: filled from ``signing_key.*`` events)."""
    op.create_table(
        "signing_keys",
        sa.Column("kid", sa.String(length=80), nullable=False),
        sa.Column("public_jwk", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("retired_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("kid"),
    )


def signing_keys_copy_downgrade() -> None:
    op.drop_table("signing_keys")


def api_keys_expiry_upgrade() -> None:
    """API keys gain an end (a rotated key's overlap) and scopes (the actions allowed)."""
    with op.batch_alter_table("api_keys", schema=None) as batch_op:
        batch_op.add_column(sa.Column("expires_at", sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column("scopes", sa.Text(), nullable=True))


def api_keys_expiry_downgrade() -> None:
    with op.batch_alter_table("api_keys", schema=None) as batch_op:
        batch_op.drop_column("scopes")
        batch_op.drop_column("expires_at")


def accounts_copy_upgrade() -> None:
    """The service's copy of people's accounts (``shared.directory``: filled from
    ``person.created`` and ``person.updated``): a token of a disabled or changed account is
    refused at once, not when it expires."""
    op.create_table(
        "accounts",
        sa.Column("person_id", sa.String(length=40), nullable=False),
        sa.Column("unit", sa.String(length=40), nullable=False),
        sa.Column("roles", sa.Text(), nullable=False),
        sa.Column("agency_id", sa.String(length=40), nullable=True),
        sa.Column("staff_id", sa.String(length=40), nullable=True),
        sa.Column("credit_codes", sa.Text(), server_default="[]", nullable=False),
        sa.Column("disabled_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("changed_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("person_id"),
    )


def accounts_copy_downgrade() -> None:
    op.drop_table("accounts")
