"""Visits' tables (its own database)."""

from sqlalchemy import Column, Integer, MetaData, String, Table

from shared.db import UtcDateTime
from shared.outbox import add_outbox_tables

metadata = MetaData()
outbox, processed_events, dead_letters = add_outbox_tables(metadata)

enterprise_links = Table(
    "enterprise_links",
    metadata,
    Column("enterprise_credit_code", String(18), primary_key=True),
    Column("unit_type", String(20), primary_key=True),
    Column("unit_id", String(40), primary_key=True),
    Column("unit_name", String(200), nullable=False),
    Column("jurisdiction", String(6), nullable=False, index=True),
    Column("since", UtcDateTime(), nullable=False),
    Column("last_demand_code", String(20), nullable=False),
    Column("demand_count", Integer, nullable=False),
)
