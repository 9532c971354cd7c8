"""The directory's tables: the unit tree and the API keys (the same shape every service
copies, ``shared.directory``), and the changes of the tree, kept for ever; people's
accounts, sessions and identities at a province's identity platform (single sign-on)."""

from sqlalchemy import Column, Integer, MetaData, String, Table, Text, UniqueConstraint

from shared.db import UtcDateTime
from shared.directory import CODE_LENGTH, add_directory_tables, add_signing_keys_table
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

signing_keys = add_signing_keys_table(metadata)

signing_secrets = Table(  # the private halves: in the directory's database only
    "signing_secrets",
    metadata,
    Column("kid", String(80), primary_key=True),
    Column("private_jwk", Text, nullable=False),
)

persons = Table(  # people's accounts: a password's argon2id hash, never the password
    "persons",
    metadata,
    Column("person_id", String(40), primary_key=True),  # the log-in name, lower case
    Column("name", String(100), nullable=False),
    Column("unit", String(CODE_LENGTH), nullable=False, index=True),
    Column("roles", Text, nullable=False),  # a JSON list
    Column("agency_id", String(40), nullable=True),
    Column("staff_id", String(40), nullable=True),
    Column("credit_codes", Text, nullable=False, server_default="[]"),  # a JSON list
    Column("password_hash", Text, nullable=False),
    Column("password_changed_at", UtcDateTime(), nullable=False),
    Column("totp_secret", Text, nullable=True),  # sealed (services.directory.sealing)
    Column("totp_last_step", Integer, nullable=True),
    Column("failures", Integer, nullable=False, server_default="0"),
    Column("locked_until", UtcDateTime(), nullable=True),
    Column("created_at", UtcDateTime(), nullable=False),
    Column("disabled_at", UtcDateTime(), nullable=True),
)

person_sessions = Table(  # a signed-in session: its refresh token's SHA-256 only
    "person_sessions",
    metadata,
    Column("session_id", String(36), primary_key=True),
    Column("person_id", String(40), nullable=False, index=True),
    Column("refresh_sha256", String(64), nullable=False, unique=True),
    Column("created_at", UtcDateTime(), nullable=False),
    Column("last_seen_at", UtcDateTime(), nullable=False),
    Column("ended_at", UtcDateTime(), nullable=True),
    Column("end_reason", String(40), nullable=True),
)

person_identities = Table(  # who a person is at an identity platform (single sign-on)
    "person_identities",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("issuer", String(255), nullable=False),  # the platform's OpenID Connect issuer
    Column("subject", String(255), nullable=False),  # its ``sub`` for the person
    Column("person_id", String(40), nullable=False, index=True),
    Column("linked_by", String(200), nullable=False),
    Column("linked_at", UtcDateTime(), nullable=False),
    UniqueConstraint("issuer", "subject", name="uq_person_identities_issuer_subject"),
)

sso_logins = Table(  # a single sign-on under way: deleted when it comes back, or expires
    "sso_logins",
    metadata,
    Column("state", String(64), primary_key=True),
    Column("nonce", String(64), nullable=False),
    Column("code_verifier", String(128), nullable=False),  # PKCE: never leaves the directory
    Column("redirect_uri", Text, nullable=False),
    Column("created_at", UtcDateTime(), nullable=False, index=True),
)

enterprise_bindings = Table(  # an enterprise user's request to act for an enterprise
    "enterprise_bindings",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("person_id", String(40), nullable=False, index=True),
    Column("credit_code", String(18), nullable=False, index=True),
    Column("status", String(12), nullable=False),  # requested, confirmed, refused
    Column("requested_at", UtcDateTime(), nullable=False),
    Column("decided_by", String(200), nullable=True),
    Column("decided_as", String(12), nullable=True),  # office, contact
    Column("decided_at", UtcDateTime(), nullable=True),
    Column("note", Text, nullable=True),
    UniqueConstraint("person_id", "credit_code", name="uq_enterprise_bindings_person_code"),
)
