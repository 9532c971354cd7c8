"""Dispatch's tables (its own database)."""

from sqlalchemy import Boolean, Column, Integer, MetaData, String, Table

from shared.db import UtcDateTime
from shared.outbox import add_outbox_tables

metadata = MetaData()
outbox, processed_events, dead_letters = add_outbox_tables(metadata)

departments = Table(
    "departments",
    metadata,
    Column("id", String(40), primary_key=True),
    Column("jurisdiction", String(6), nullable=False, index=True),
    Column("name", String(200), nullable=False),
    Column("segments", String(200), nullable=False, default=""),
    Column("is_default", Boolean, nullable=False, default=False),
)

staff = Table(
    "staff",
    metadata,
    Column("id", String(40), primary_key=True),
    Column("department_id", String(40), nullable=False, index=True),
    Column("name", String(100), nullable=False),
    Column("title", String(100), nullable=True),
)

agencies = Table(
    "agencies",
    metadata,
    Column("id", String(40), primary_key=True),
    Column("name", String(200), nullable=False),
    Column("category", String(20), nullable=False),
    Column("jurisdiction", String(6), nullable=False),
    Column("rank_basis", Integer, nullable=False, default=0),
    Column("status", String(20), nullable=False, default="active"),
)

assignments = Table(
    "assignments",
    metadata,
    Column("id", String(36), primary_key=True),
    Column("demand_code", String(20), nullable=False, index=True),
    Column("jurisdiction", String(6), nullable=False, index=True),
    Column("kind", String(20), nullable=False),
    Column("assignee_type", String(20), nullable=False),
    Column("assignee_id", String(40), nullable=False),
    Column("assignee_name", String(200), nullable=False),
    Column("enterprise_credit_code", String(18), nullable=False),
    Column("category", String(40), nullable=False),
    Column("reason", String(500), nullable=False),
    Column("assigned_at", UtcDateTime(), nullable=False),
)
