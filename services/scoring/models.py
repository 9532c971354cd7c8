"""Scoring's tables (its own database)."""

from sqlalchemy import Column, MetaData, String, Table, UniqueConstraint

from shared.db import UtcDateTime
from shared.outbox import add_outbox_tables

metadata = MetaData()
outbox, processed_events, dead_letters = add_outbox_tables(metadata)

# One row per fact that may earn points: the record behind every scorecard point.
tally_records = Table(
    "tally_records",
    metadata,
    Column("event_id", String(36), nullable=False),
    Column("unit_type", String(20), nullable=False),
    Column("unit_id", String(40), nullable=False, index=True),
    Column("unit_name", String(200), nullable=False),
    Column("jurisdiction", String(6), nullable=False, index=True),
    Column("period", String(7), nullable=False, index=True),
    Column("item", String(40), nullable=False),
    Column("stage", String(20), nullable=False),
    Column("demand_code", String(20), nullable=True),
    Column("recorded_at", UtcDateTime(), nullable=False),
    UniqueConstraint("event_id", "unit_id", "item", "stage", name="uq_tally_fact"),
)
