"""Archive's tables (its own database)."""

from sqlalchemy import BigInteger, Column, Integer, MetaData, String, Table, Text

from shared.contracts.intake import DEMAND_CODE_LENGTH
from shared.db import UtcDateTime
from shared.directory import (
    CODE_LENGTH,
    add_accounts_table,
    add_directory_tables,
    add_signing_keys_table,
)
from shared.outbox import add_outbox_tables

metadata = MetaData()
outbox, processed_events, dead_letters = add_outbox_tables(metadata)
jurisdictions, api_keys = add_directory_tables(metadata)
signing_keys = add_signing_keys_table(metadata)
accounts = add_accounts_table(metadata)  # people, as the directory announces them

archived_events = Table(
    "archived_events",
    metadata,
    Column("seq", BigInteger().with_variant(Integer, "sqlite"), primary_key=True),
    Column("event_id", String(36), nullable=False, unique=True),
    Column("event_type", String(80), nullable=False, index=True),
    Column("event_version", Integer, nullable=False),
    Column("producer", String(40), nullable=False),
    Column("jurisdiction", String(CODE_LENGTH), nullable=False, index=True),
    Column("correlation_id", String(100), nullable=False, index=True),
    Column("demand_code", String(DEMAND_CODE_LENGTH), nullable=True, index=True),
    Column("credit_code", String(18), nullable=True, index=True),
    Column("staff_id", String(40), nullable=True, index=True),
    Column("agency_id", String(40), nullable=True, index=True),
    Column("occurred_at", UtcDateTime(), nullable=False, index=True),
    Column("archived_at", UtcDateTime(), nullable=False),
    Column("body", Text, nullable=False),
    Column("prev_hash", String(64), nullable=False),
    Column("hash", String(64), nullable=False),
)

# The chain's head, moved in the same transaction as every append: deleting the newest
# records (which no later record points to) is then detected too.
chain_head = Table(
    "chain_head",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("length", BigInteger, nullable=False),
    Column("last_seq", BigInteger, nullable=False),
    Column("last_hash", String(64), nullable=False),
)

# What verifies found intact (``services.archive.domain.Checkpoint``), so that a routine
# verify walks only the records after the newest one. Their column digests cover the
# indexed columns as this database renders them (a JSON array per record): a migration
# that changes those columns (their set or their values), or a move to another database
# engine, must empty this table (the next verify then checks everything from the bodies).
chain_checkpoints = Table(
    "chain_checkpoints",
    metadata,
    Column("seq", BigInteger, primary_key=True, autoincrement=False),
    Column("length", BigInteger, nullable=False),
    Column("hash", String(64), nullable=False),
    Column("columns", String(64), nullable=False),
    # unique: two verifies racing cannot both extend the same checkpoint (no fork)
    Column("prev_digest", String(64), nullable=False, unique=True),
    Column("digest", String(64), nullable=False),
    Column("made_at", UtcDateTime(), nullable=False),
)
