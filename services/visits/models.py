"""Visits' tables (its own database)."""

from sqlalchemy import (
    Boolean,
    Column,
    Date,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    false,
)

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

enterprise_links = Table(
    "enterprise_links",
    metadata,
    Column("enterprise_credit_code", String(18), primary_key=True),
    Column("unit_type", String(20), primary_key=True),
    Column("unit_id", String(40), primary_key=True),
    Column("unit_name", String(200), nullable=False),
    Column("jurisdiction", String(CODE_LENGTH), nullable=False, index=True),
    Column("since", UtcDateTime(), nullable=False),
    Column("last_demand_code", String(DEMAND_CODE_LENGTH), nullable=True),  # None: standing only
    Column("demand_count", Integer, nullable=False),
    # the standing 包保 link dispatch announces (``responsibility.linked``), before any demand
    Column("standing", Boolean, nullable=False, default=False, server_default=false()),
    Column("basis", String(160), nullable=True),
)

standing_versions = Table(  # the newest standing link applied per enterprise (order guard)
    "standing_versions",
    metadata,
    Column("enterprise_credit_code", String(18), primary_key=True),
    Column("version", Integer, nullable=False),
    Column("department_id", String(40), nullable=True),
    Column("staff_id", String(40), nullable=True),
    Column("basis", String(160), nullable=False),
    Column("since", UtcDateTime(), nullable=False),
)

# Departments and staff as dispatch's responsibility map announces them.
units = Table(
    "units",
    metadata,
    Column("id", String(40), primary_key=True),
    Column("type", String(20), nullable=False),  # department | staff
    Column("name", String(200), nullable=False),
    Column("jurisdiction", String(CODE_LENGTH), nullable=False, index=True),
    Column("department_id", String(40), nullable=True),  # staff: their department
    Column("title", String(100), nullable=True),
    Column("leader_staff_id", String(40), nullable=True),  # department: its leader
)

# Enterprises as intake announces them.
enterprises = Table(
    "enterprises",
    metadata,
    Column("credit_code", String(18), primary_key=True),
    Column("name", String(200), nullable=False),
    Column("jurisdiction", String(CODE_LENGTH), nullable=False, index=True),
    Column("is_key", Boolean, nullable=False, default=False),
)

demands = Table(  # demands as intake announces them: follow-ups are checked against them
    "demands",
    metadata,
    Column("code", String(DEMAND_CODE_LENGTH), primary_key=True),
    Column("jurisdiction", String(CODE_LENGTH), nullable=False),
    Column("credit_code", String(18), nullable=False),
)

visits = Table(  # one row per visit: its current version
    "visits",
    metadata,
    Column("id", String(36), primary_key=True),
    Column("version", Integer, nullable=False),
    Column("jurisdiction", String(CODE_LENGTH), nullable=False, index=True),
    Column("staff_id", String(40), nullable=True, index=True),
    Column("department_id", String(40), nullable=True, index=True),
    Column("team_id", String(40), nullable=True, index=True),
    Column("visited_on", Date, nullable=False, index=True),
    Column("kind", String(30), nullable=False),
    Column("created_by", String(100), nullable=False),
    Column("created_at", UtcDateTime(), nullable=False),
)

visit_versions = Table(  # every version, never overwritten
    "visit_versions",
    metadata,
    Column("visit_id", String(36), primary_key=True),
    Column("version", Integer, primary_key=True),
    Column("body", Text, nullable=False),  # the version as published (JSON)
    Column("edited_by", String(100), nullable=False),
    Column("edited_at", UtcDateTime(), nullable=False),
    Column("reason", String(500), nullable=True),
)

visit_enterprises = Table(  # the current version's enterprises, for filters and compliance
    "visit_enterprises",
    metadata,
    Column("visit_id", String(36), primary_key=True),
    Column("credit_code", String(18), primary_key=True),
    Column("enterprise_jurisdiction", String(CODE_LENGTH), nullable=False),
    Column("visited_on", Date, nullable=False),
    Index("ix_visit_enterprises_code_day", "credit_code", "visited_on"),
)

visit_demands = Table(
    "visit_demands",
    metadata,
    Column("visit_id", String(36), primary_key=True),
    Column("demand_code", String(DEMAND_CODE_LENGTH), primary_key=True),
    Column("link", String(20), nullable=False),
    Column("at", UtcDateTime(), nullable=False),
)

visit_keys = Table(  # Idempotency-Key of visit submissions
    "visit_keys",
    metadata,
    Column("principal", String(16), primary_key=True),
    Column("key", String(200), primary_key=True),
    Column("request_sha256", String(64), nullable=False),
    Column("visit_id", String(36), nullable=False),
)

teams = Table(  # provincial service teams (SX 服务专班), linked to a city and key enterprises
    "teams",
    metadata,
    Column("id", String(40), primary_key=True),
    Column("name", String(200), nullable=False),
    Column("jurisdiction", String(CODE_LENGTH), nullable=False, index=True),
    Column("linked_city", String(CODE_LENGTH), nullable=False),
    Column("key_enterprises", Text, nullable=False),  # JSON list of credit codes
    Column("updated_at", UtcDateTime(), nullable=False),
)

stations = Table(  # service stations (CX 服务站) and their staff on duty
    "stations",
    metadata,
    Column("id", String(40), primary_key=True),
    Column("name", String(200), nullable=False),
    Column("jurisdiction", String(CODE_LENGTH), nullable=False, index=True),
    Column("staff_ids", Text, nullable=False),  # JSON list
    Column("updated_at", UtcDateTime(), nullable=False),
)

duty_days = Table(
    "duty_days",
    metadata,
    Column("staff_id", String(40), primary_key=True),
    Column("day", Date, primary_key=True),
    Column("station_id", String(40), nullable=False),
    Column("recorded_by", String(100), nullable=False),
)

plans = Table(
    "plans",
    metadata,
    Column("id", String(36), primary_key=True),
    Column("jurisdiction", String(CODE_LENGTH), nullable=False, index=True),
    Column("staff_id", String(40), nullable=True),
    Column("department_id", String(40), nullable=True),
    Column("team_id", String(40), nullable=True),
    Column("enterprises", Text, nullable=False),
    Column("planned_on", Date, nullable=False, index=True),
    Column("kind", String(30), nullable=False),
    Column("note", String(2000), nullable=False),
    Column("status", String(20), nullable=False, index=True),
    Column("reason", String(500), nullable=True),
    Column("visit_id", String(36), nullable=True),
    Column("created_by", String(100), nullable=False),
    Column("updated_at", UtcDateTime(), nullable=False),
)

frequency_rules = Table(  # versioned per jurisdiction; the nearest on the path wins
    "frequency_rules",
    metadata,
    Column("jurisdiction", String(CODE_LENGTH), primary_key=True),
    Column("version", Integer, primary_key=True),
    Column("effective_from", Date, nullable=False),
    Column("params", Text, nullable=False),
    Column("published_by", String(100), nullable=False),
    Column("published_at", UtcDateTime(), nullable=False),
)

overdue_flags = Table(  # a period that closed short, announced once per subject
    "overdue_flags",
    metadata,
    Column("rule", String(40), primary_key=True),
    Column("subject_id", String(80), primary_key=True),
    Column("period", String(10), primary_key=True),
    Column("jurisdiction", String(CODE_LENGTH), nullable=False, index=True),
    Column("shortfall", Integer, nullable=False),
    Column("at", UtcDateTime(), nullable=False),
)
