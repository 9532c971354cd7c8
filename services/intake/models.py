"""Intake's tables (its own database)."""

from sqlalchemy import Boolean, Column, Integer, MetaData, String, Table, Text

from shared.db import UtcDateTime
from shared.outbox import add_outbox_tables

metadata = MetaData()
outbox, processed_events, dead_letters = add_outbox_tables(metadata)

enterprises = Table(
    "enterprises",
    metadata,
    Column("credit_code", String(18), primary_key=True),
    Column("name", String(200), nullable=False),
    Column("jurisdiction", String(6), nullable=False, index=True),
    Column("created_at", UtcDateTime(), nullable=False),
)

demand_sequences = Table(
    "demand_sequences",
    metadata,
    Column("jurisdiction", String(6), primary_key=True),
    Column("year", Integer, primary_key=True),
    Column("last_value", Integer, nullable=False),
)

demands = Table(
    "demands",
    metadata,
    Column("code", String(20), primary_key=True),
    Column("jurisdiction", String(6), nullable=False, index=True),
    Column("enterprise_credit_code", String(18), nullable=False, index=True),
    Column("category", String(40), nullable=False),
    Column("title", String(200), nullable=False),
    Column("description", Text, nullable=False),
    Column("source", String(40), nullable=False),
    Column("contact_name", String(100), nullable=True),
    Column("contact_phone", String(40), nullable=True),
    Column("consent_to_share", Boolean, nullable=False),
    Column("status", String(20), nullable=False),
    Column("owner_type", String(20), nullable=True),
    Column("owner_id", String(40), nullable=True),
    Column("owner_name", String(200), nullable=True),
    Column("correlation_id", String(100), nullable=False),
    Column("accepted_by", String(100), nullable=False),
    Column("accepted_at", UtcDateTime(), nullable=False, index=True),
)
