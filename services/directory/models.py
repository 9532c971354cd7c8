"""The directory's tables: the unit tree and the API keys (the same shape every service
copies, ``shared.directory``), and the changes of the tree, kept for ever."""

from sqlalchemy import Column, Integer, MetaData, String, Table, Text

from shared.db import UtcDateTime
from shared.directory import CODE_LENGTH, add_directory_tables
from shared.outbox import add_outbox_tables

metadata = MetaData()

outbox, processed_events, dead_letters = add_outbox_tables(metadata)
jurisdictions, api_keys = add_directory_tables(metadata)

jurisdiction_changes = Table(  # opened, renamed, moved, retired, reopened: never deleted
    "jurisdiction_changes",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("code", String(CODE_LENGTH), nullable=False, index=True),
    Column("kind", String(20), nullable=False),
    Column("name", String(100), nullable=False),
    Column("old_name", String(100), nullable=True),
    Column("parent", String(CODE_LENGTH), nullable=True),
    Column("old_parent", String(CODE_LENGTH), nullable=True),
    Column("successor", String(CODE_LENGTH), nullable=True),
    Column("reason", Text, nullable=False),
    Column("actor", String(200), nullable=False),
    Column("at", UtcDateTime(), nullable=False),
)
