"""Intake's tables (its own database)."""

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    Float,
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

enterprises = Table(
    "enterprises",
    metadata,
    Column("credit_code", String(18), primary_key=True),
    Column("name", String(200), nullable=False),
    Column("jurisdiction", String(CODE_LENGTH), nullable=False, index=True),
    Column("created_at", UtcDateTime(), nullable=False),
    # the innovation-entity profile (创新主体信息库 / 科技体检); figures in CNY
    Column("technology_field", String(100), nullable=True),
    Column("revenue", BigInteger, nullable=True),
    Column("rd_spend", BigInteger, nullable=True),
    Column("has_rd_activity", Boolean, nullable=True),
    Column("has_rd_institution", Boolean, nullable=True),
    Column("invention_patents", Integer, nullable=True),
    Column("utility_patents", Integer, nullable=True),
    Column("software_copyrights", Integer, nullable=True),
    Column("growth_tier", String(30), nullable=True, index=True),
    Column("is_key", Boolean, nullable=False, server_default=false()),
    Column("needs_named_person", Boolean, nullable=False, server_default=false()),
    Column("needs_one_plan", Boolean, nullable=False, server_default=false()),
    Column("updated_at", UtcDateTime(), nullable=True),
)

demand_sequences = Table(
    "demand_sequences",
    metadata,
    Column("jurisdiction", String(CODE_LENGTH), primary_key=True),
    Column("year", Integer, primary_key=True),
    Column("last_value", Integer, nullable=False),
)

demands = Table(
    "demands",
    metadata,
    Column("code", String(DEMAND_CODE_LENGTH), primary_key=True),
    Column("jurisdiction", String(CODE_LENGTH), nullable=False, index=True),
    Column("enterprise_credit_code", String(18), nullable=False, index=True),
    Column("category", String(40), nullable=False),
    Column("service_item", String(40), nullable=True),
    Column("title", String(200), nullable=False),
    Column("description", Text, nullable=False),
    Column("source", String(40), nullable=False),
    Column("contact_name", String(100), nullable=True),
    Column("contact_phone", String(40), nullable=True),
    Column("contact_email", String(200), nullable=True),
    # where (Open311 asks for a location: lat/long, an address or an address id)
    Column("address", String(300), nullable=True),
    Column("address_id", String(100), nullable=True),
    Column("lat", Float, nullable=True),
    Column("long", Float, nullable=True),
    Column("media_url", String(500), nullable=True),
    Column("attachments", Text, nullable=False, server_default="[]"),  # JSON list of links
    Column("ordered_agency", String(40), nullable=True),  # 企业点单
    Column("consent_to_share", Boolean, nullable=False),
    Column("status", String(20), nullable=False),
    Column("owner_type", String(20), nullable=True),
    Column("owner_id", String(40), nullable=True, index=True),
    Column("owner_name", String(200), nullable=True),
    Column("correlation_id", String(100), nullable=False),
    Column("accepted_by", String(100), nullable=False),
    Column("accepted_at", UtcDateTime(), nullable=False, index=True),
    # screening and the promised time limit (working days on the Chinese calendar)
    Column("complexity", String(20), nullable=False, server_default="general"),
    Column("urgency", String(20), nullable=True),
    Column("feasibility", String(20), nullable=True),
    Column("expected_at", UtcDateTime(), nullable=True),
    Column("deadline_provisional", Boolean, nullable=False, server_default=false()),
    # when the enterprise raised it (collected offline, entered later); None: when accepted
    Column("received_at", UtcDateTime(), nullable=True),
    # the first response (首次响应) promised, and given: the owner's first screening or move
    Column("respond_by", UtcDateTime(), nullable=True),
    Column("responded_at", UtcDateTime(), nullable=True),
    # escalated to the responsible leader (dispatch's deadline sweep): when, to whom
    Column("escalated_at", UtcDateTime(), nullable=True),
    Column("escalated_to", String(200), nullable=True),
    # the end of the loop
    Column("closed_at", UtcDateTime(), nullable=True),
    Column("resolution", String(20), nullable=True),
    Column("satisfaction_rating", Integer, nullable=True),
    Column("satisfaction_comment", Text, nullable=True),
)

# Every step of a demand's loop, append-only: who, when, what, and why.
demand_updates = Table(
    "demand_updates",
    metadata,
    Column("id", BigInteger().with_variant(Integer, "sqlite"), primary_key=True),
    Column("demand_code", String(DEMAND_CODE_LENGTH), nullable=False, index=True),
    Column("kind", String(20), nullable=False),  # transition | screening | revisit
    Column("from_status", String(20), nullable=True),
    Column("to_status", String(20), nullable=True),
    Column("note", Text, nullable=False, server_default=""),
    Column("details", Text, nullable=False, server_default="{}"),  # JSON
    Column("actor", String(100), nullable=False),
    Column("at", UtcDateTime(), nullable=False),
)

# Idempotency-Key: the same key and body get the stored response again.
idempotency_keys = Table(
    "idempotency_keys",
    metadata,
    Column("principal", String(16), primary_key=True),
    Column("key", String(200), primary_key=True),
    Column("request_sha256", String(64), nullable=False),
    Column("status", Integer, nullable=False),
    Column("response", Text, nullable=False),
    Column("created_at", UtcDateTime(), nullable=False),
)

# The demands a survey sheet (科技体检) yielded, by the digest of the row's demand in the
# jurisdiction it was filed in: importing the same row again finds its demand here.
demand_imports = Table(
    "demand_imports",
    metadata,
    Column("row_sha256", String(64), primary_key=True),
    Column("demand_code", String(DEMAND_CODE_LENGTH), nullable=False),
    Column("imported_by", String(100), nullable=False),
    Column("imported_at", UtcDateTime(), nullable=False),
)

# Per-jurisdiction time limits (working days) and closure days; the nearest
# jurisdiction on the path that has rules wins, else the defaults.
time_limit_rules = Table(
    "time_limit_rules",
    metadata,
    Column("jurisdiction", String(CODE_LENGTH), primary_key=True),
    Column("simple", Integer, nullable=False),
    Column("general", Integer, nullable=False),
    Column("complex", Integer, nullable=False),
    Column("response_hours", Integer, nullable=True),  # None: DEFAULT_RESPONSE_HOURS
    Column("closures", Text, nullable=False, server_default="[]"),  # JSON list of ISO dates
    Column("updated_by", String(100), nullable=False),
    Column("updated_at", UtcDateTime(), nullable=False),
)

# Callbacks (services.intake.callbacks): one URL per key that files demands, and the
# status changes of its demands to deliver there, written in the change's transaction.
callback_subscriptions = Table(
    "callback_subscriptions",
    metadata,
    Column("key_id", String(100), primary_key=True),  # a demand's accepted_by
    Column("url", String(2000), nullable=False),
    Column("secret", Text, nullable=False),  # sealed (shared.sealing): it must sign
    Column("created_at", UtcDateTime(), nullable=False),
    Column("updated_at", UtcDateTime(), nullable=False),
)

callback_deliveries = Table(
    "callback_deliveries",
    metadata,
    Column("id", BigInteger().with_variant(Integer, "sqlite"), primary_key=True),
    Column("key_id", String(100), nullable=False),
    Column("demand_code", String(DEMAND_CODE_LENGTH), nullable=False),
    Column("event_id", String(36), nullable=False),
    Column("event_type", String(60), nullable=False),
    Column("body", Text, nullable=False),  # the event's envelope, as on the bus
    Column("status", String(12), nullable=False),  # pending | delivered | dead
    Column("attempts", Integer, nullable=False, server_default="0"),
    Column("next_attempt_at", UtcDateTime(), nullable=False),
    Column("claimed_until", UtcDateTime(), nullable=True),  # a delivery job is trying it
    Column("created_at", UtcDateTime(), nullable=False),
    Column("settled_at", UtcDateTime(), nullable=True),  # delivered or dead-lettered
    Column("last_status", Integer, nullable=True),  # the receiver's last HTTP status
    Column("last_error", String(500), nullable=True),
    Column("resend_of", BigInteger, nullable=True),
    Index("ix_callback_deliveries_due", "status", "next_attempt_at"),
    Index("ix_callback_deliveries_queue", "key_id", "demand_code", "id"),
)
