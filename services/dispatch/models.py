"""Dispatch's tables (its own database)."""

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    Date,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
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

# --- the responsibility map (包保) -------------------------------------------------
departments = Table(
    "departments",
    metadata,
    Column("id", String(40), primary_key=True),
    Column("jurisdiction", String(CODE_LENGTH), nullable=False, index=True),
    Column("name", String(200), nullable=False),
    Column("segments", String(200), nullable=False, default=""),
    Column("is_default", Boolean, nullable=False, default=False),
    Column("leader_staff_id", String(40), nullable=True),
    # the contact list of the service dossier (XN 服务档案): how enterprises reach it
    Column("phone", String(40), nullable=True),
    Column("service_hours", String(100), nullable=True),
)

staff = Table(
    "staff",
    metadata,
    Column("id", String(40), primary_key=True),
    Column("department_id", String(40), nullable=False, index=True),
    Column("name", String(100), nullable=False),
    Column("title", String(100), nullable=True),
    Column("phone", String(40), nullable=True),
)

# Enterprise profiles as intake announces them (the SX flags pick named owners),
# with the named person (包保人员) the map gives key and flagged enterprises.
enterprises = Table(
    "enterprises",
    metadata,
    Column("credit_code", String(18), primary_key=True),
    Column("name", String(200), nullable=False),
    Column("jurisdiction", String(CODE_LENGTH), nullable=False, index=True),
    Column("growth_tier", String(40), nullable=True),
    Column("is_key", Boolean, nullable=False, default=False),
    Column("needs_named_person", Boolean, nullable=False, default=False),
    Column("needs_one_plan", Boolean, nullable=False, default=False),
    Column("named_staff_id", String(40), nullable=True),
    Column("technology_field", String(100), nullable=True),  # a segment (standing links)
)

# --- the agency alliance (CX) ------------------------------------------------------
alliances = Table(  # one row per city: the lock every dispatch decision of the city takes
    "alliances",
    metadata,
    Column("city", String(CODE_LENGTH), primary_key=True),
    Column("created_at", UtcDateTime(), nullable=False),
)

alliance_rules = Table(  # versioned rule sets; the newest one in effect applies
    "alliance_rules",
    metadata,
    Column("city", String(CODE_LENGTH), primary_key=True),
    Column("version", Integer, primary_key=True),
    Column("effective_from", Date, nullable=False),
    Column("params", Text, nullable=False),
    Column("published_by", String(100), nullable=False),
    Column("published_at", UtcDateTime(), nullable=False),
)

menu_items = Table(  # the standard contracts' menu (CX 第十四条)
    "menu_items",
    metadata,
    Column("city", String(CODE_LENGTH), primary_key=True),
    Column("service_item", String(40), primary_key=True),
    Column("price", Integer, nullable=False),
    Column("policy_coverage", Integer, nullable=True),
    Column("expected_settlement_months", Integer, nullable=True),
    Column("updated_by", String(100), nullable=False),
    Column("updated_at", UtcDateTime(), nullable=False),
)

agencies = Table(
    "agencies",
    metadata,
    Column("id", String(40), primary_key=True),
    Column("name", String(200), nullable=False),
    Column("category", String(20), nullable=False),
    Column("jurisdiction", String(CODE_LENGTH), nullable=False),
    Column("rank_basis", Integer, nullable=False, default=0),
    Column("status", String(20), nullable=False, default="active"),
    Column("engagements_two_years", Integer, nullable=True),
    Column("paused_until", Date, nullable=True),
    Column("status_reason", String(500), nullable=True),
    Column("admitted_at", UtcDateTime(), nullable=True),
    Column("broker_user", String(80), nullable=True),
    Column("broker_password_hash", String(120), nullable=True),
)

rotation_pointers = Table(
    "rotation_pointers",
    metadata,
    Column("city", String(CODE_LENGTH), primary_key=True),
    Column("agency_category", String(20), primary_key=True),
    Column("last_agency_id", String(40), nullable=False),
)

blacklist = Table(  # 企业黑名单 (CX 第二十一条), per city alliance
    "blacklist",
    metadata,
    Column("city", String(CODE_LENGTH), primary_key=True),
    Column("credit_code", String(18), primary_key=True),
    Column("reason", String(20), nullable=False),
    Column("assignment_id", String(36), nullable=True),
    Column("note", String(2000), nullable=False),
    Column("actor", String(100), nullable=False),
    Column("at", UtcDateTime(), nullable=False),
)

decisions = Table(  # every agency dispatch decision, with its explanation
    "decisions",
    metadata,
    Column("id", BigInteger().with_variant(Integer, "sqlite"), primary_key=True),
    Column("demand_code", String(DEMAND_CODE_LENGTH), nullable=False, index=True),
    Column("jurisdiction", String(CODE_LENGTH), nullable=False, index=True),
    Column("city", String(CODE_LENGTH), nullable=False),
    Column("month", String(7), nullable=False),
    Column("service_item", String(40), nullable=False),
    Column("agency_category", String(20), nullable=False),
    Column("outcome", String(20), nullable=False),
    Column("agency_id", String(40), nullable=True),
    Column("explanation", Text, nullable=False),
    Column("decided_at", UtcDateTime(), nullable=False),
)

assignments = Table(
    "assignments",
    metadata,
    Column("id", String(36), primary_key=True),
    Column("demand_code", String(DEMAND_CODE_LENGTH), nullable=False, index=True),
    Column("jurisdiction", String(CODE_LENGTH), nullable=False, index=True),
    Column("kind", String(20), nullable=False),
    Column("assignee_type", String(20), nullable=False),
    Column("assignee_id", String(40), nullable=False),
    Column("assignee_name", String(200), nullable=False),
    Column("enterprise_credit_code", String(18), nullable=False),
    Column("category", String(40), nullable=False),
    Column("reason", String(500), nullable=False),
    Column("assigned_at", UtcDateTime(), nullable=False),
    Column("status", String(20), nullable=False, default="open"),
    Column("due_at", UtcDateTime(), nullable=True),
    Column("closed_at", UtcDateTime(), nullable=True),
    # owners: the first response (首次响应) due, and given (screened, moved or reported)
    Column("respond_by", UtcDateTime(), nullable=True),
    Column("responded_at", UtcDateTime(), nullable=True),
    # agency orders
    Column("city", String(CODE_LENGTH), nullable=True),
    Column("month", String(7), nullable=True),
    Column("service_item", String(40), nullable=True),
    Column("value", Integer, nullable=True),
    Column("decision_id", Integer, nullable=True),
    Column("replaces", String(36), nullable=True),
    Column("consent_to_share", Boolean, nullable=False, default=False),
    # title/description/contact: for the agency handling the demand (kept after it stops
    # handling it only with the enterprise's consent)
    Column("brief", Text, nullable=True),
    Column("bond", Integer, nullable=True),
    Column("bond_reason", String(300), nullable=True),
    Column("goal_reached", Boolean, nullable=True),
    Column("funds_received_on", Date, nullable=True),
    Column("settlement_due", Date, nullable=True),
    Index("ix_assignments_city_month", "city", "month"),
    Index("ix_assignments_open_due", "status", "due_at"),
)

order_events = Table(  # each agency order's history, in order
    "order_events",
    metadata,
    Column("id", BigInteger().with_variant(Integer, "sqlite"), primary_key=True),
    Column("assignment_id", String(36), nullable=False, index=True),
    Column("action", String(20), nullable=False),
    Column("from_status", String(20), nullable=False),
    Column("to_status", String(20), nullable=False),
    Column("note", String(2000), nullable=False),
    Column("actor", String(100), nullable=False),
    Column("at", UtcDateTime(), nullable=False),
)

complaints = Table(
    "complaints",
    metadata,
    Column("id", BigInteger().with_variant(Integer, "sqlite"), primary_key=True),
    Column("assignment_id", String(36), nullable=False, index=True),
    Column("source", String(20), nullable=False),
    Column("text", String(2000), nullable=False),
    Column("actor", String(100), nullable=False),
    Column("at", UtcDateTime(), nullable=False),
)

breaches = Table(  # time-limit warnings and overdue breaches: kept forever, one of each
    "breaches",
    metadata,
    Column("assignment_id", String(36), primary_key=True),
    Column("level", String(10), primary_key=True),
    Column("demand_code", String(DEMAND_CODE_LENGTH), nullable=False),
    Column("jurisdiction", String(CODE_LENGTH), nullable=False, index=True),
    Column("due_at", UtcDateTime(), nullable=False),
    Column("escalated_to", String(40), nullable=True),
    Column("at", UtcDateTime(), nullable=False),
)

month_closes = Table(
    "month_closes",
    metadata,
    Column("city", String(CODE_LENGTH), primary_key=True),
    Column("month", String(7), primary_key=True),
    Column("summary", Text, nullable=False),
    Column("closed_at", UtcDateTime(), nullable=False),
)

# --- co-handling (XN 复杂问题应协调多部门、科研单位、专家资源联合处置) --------------------
experts = Table(  # the expert pool (专家库) of a unit
    "experts",
    metadata,
    Column("id", String(40), primary_key=True),
    Column("jurisdiction", String(CODE_LENGTH), nullable=False, index=True),
    Column("name", String(100), nullable=False),
    Column("fields", String(400), nullable=False, default=""),  # technology fields, ","-joined
    Column("institution", String(200), nullable=True),
    Column("phone", String(40), nullable=True),
    Column("availability", String(20), nullable=False, default="available"),
    Column("unavailable_until", Date, nullable=True),  # the last day away (None: open-ended)
    Column("updated_by", String(100), nullable=False),
    Column("updated_at", UtcDateTime(), nullable=False),
)

demand_complexity = Table(  # each demand's complexity, as accepted and screened
    "demand_complexity",
    metadata,
    Column("demand_code", String(DEMAND_CODE_LENGTH), primary_key=True),
    Column("complexity", String(20), nullable=False),
)

cotasks = Table(  # a co-handler's task on a complex demand (the lead owner keeps the demand)
    "cotasks",
    metadata,
    Column("id", String(36), primary_key=True),
    Column("demand_code", String(DEMAND_CODE_LENGTH), nullable=False, index=True),
    Column("jurisdiction", String(CODE_LENGTH), nullable=False, index=True),  # the demand's
    Column("lead_assignment_id", String(36), nullable=False),
    Column("lead_department_id", String(40), nullable=False),
    Column("category", String(40), nullable=False),
    Column("kind", String(20), nullable=False),  # department, expert, institute
    Column("cohandler_id", String(40), nullable=False),  # department or expert id; institute: ""
    Column("cohandler_name", String(200), nullable=False),
    Column("cohandler_jurisdiction", String(CODE_LENGTH), nullable=True),
    Column("contact", String(200), nullable=True),
    Column("task", String(2000), nullable=False),
    Column("due_on", Date, nullable=False),
    Column("due_at", UtcDateTime(), nullable=False),
    Column("status", String(20), nullable=False, default="open"),
    Column("assigned_by", String(100), nullable=False),
    Column("assigned_at", UtcDateTime(), nullable=False),
    Column("outcome", String(20), nullable=True),
    Column("feedback", String(2000), nullable=True),
    Column("reported_by", String(100), nullable=True),
    Column("reported_at", UtcDateTime(), nullable=True),
    Column("ended_at", UtcDateTime(), nullable=True),
    Index("ix_cotasks_open_due", "status", "due_at"),
)


# --- standing 包保 links (``standing``): who owns each enterprise before any demand --------
standing_links = Table(  # the current link of each enterprise
    "standing_links",
    metadata,
    Column("credit_code", String(18), primary_key=True),
    Column("jurisdiction", String(CODE_LENGTH), nullable=False, index=True),
    Column("department_id", String(40), nullable=True, index=True),  # None: unowned
    Column("staff_id", String(40), nullable=True, index=True),
    Column("basis", String(160), nullable=False),  # rule:<segment> | explicit | none
    Column("version", Integer, nullable=False),
    Column("since", UtcDateTime(), nullable=False),
    Column("by", String(120), nullable=False),
    Column("reason", String(500), nullable=False),
)

standing_link_history = Table(  # every version of every link, kept forever
    "standing_link_history",
    metadata,
    Column("credit_code", String(18), primary_key=True),
    Column("version", Integer, primary_key=True),
    Column("department_id", String(40), nullable=True),
    Column("staff_id", String(40), nullable=True),
    Column("basis", String(160), nullable=False),
    Column("since", UtcDateTime(), nullable=False),
    Column("until", UtcDateTime(), nullable=True),
    Column("by", String(120), nullable=False),
    Column("reason", String(500), nullable=False),
)
