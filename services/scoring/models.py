"""Scoring's tables (its own database). Everything here is rebuilt from events
(``onestop rebuild-scoring`` replays the archive): facts, units, enterprises, and the
records and rule sets scoring itself announced."""

from sqlalchemy import (
    Boolean,
    Column,
    Date,
    Float,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
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

# One row per unit-attributed fact that may earn points (visits): the record behind it.
tally_records = Table(
    "tally_records",
    metadata,
    Column("event_id", String(36), nullable=False),
    Column("unit_type", String(20), nullable=False),
    Column("unit_id", String(40), nullable=False, index=True),
    Column("unit_name", String(200), nullable=False),
    Column("jurisdiction", String(CODE_LENGTH), nullable=False, index=True),
    Column("period", String(7), nullable=False, index=True),
    Column("day", Date, nullable=True, index=True),  # China-time day: a visit's, a report's
    Column("item", String(40), nullable=False),
    Column("stage", String(20), nullable=False),
    Column("demand_code", String(DEMAND_CODE_LENGTH), nullable=True),
    Column("visit_id", String(36), nullable=True, index=True),
    Column("recorded_at", UtcDateTime(), nullable=False),
    UniqueConstraint("event_id", "unit_id", "item", "stage", name="uq_tally_fact"),
)

# A demand's facts (accepted, collected, analysed, published, matched, solved, closed,
# rating), each attributed to the owner of its day as facts and owners arrive, in any order.
demand_facts = Table(
    "demand_facts",
    metadata,
    Column("event_id", String(36), primary_key=True),
    Column("fact", String(20), primary_key=True),
    Column("demand_code", String(DEMAND_CODE_LENGTH), nullable=False, index=True),
    Column("jurisdiction", String(CODE_LENGTH), nullable=False, index=True),
    Column("category", String(40), nullable=True),
    Column("credit_code", String(18), nullable=True),
    Column("period", String(7), nullable=False, index=True),
    Column("value", Integer, nullable=True),
    Column("at", UtcDateTime(), nullable=False),
    # who the fact counts for and the input it feeds (services.scoring.attribution)
    Column("owner_id", String(40), nullable=True),
    Column("input", String(40), nullable=True),
    Index("ix_demand_facts_owner_period", "owner_id", "period"),
)

demand_months = Table(  # each demand's month in a row: what the KPIs count (attribution)
    "demand_months",
    metadata,
    Column("demand_code", String(DEMAND_CODE_LENGTH), primary_key=True),
    Column("month", String(7), primary_key=True),
    Column("jurisdiction", String(CODE_LENGTH), nullable=False, index=True),
    Column("accepted_by", String(18), nullable=True, index=True),  # accepted: its enterprise
    Column("accepted", Boolean, nullable=False, default=False),
    Column("closed", Boolean, nullable=False, default=False),
    Column("solved", Boolean, nullable=False, default=False),
    Column("last_close_value", Integer, nullable=True),  # the month's last close: on time?
    Column("next_close", String(7), nullable=True),  # the demand's next month with a close
    Column("first_close", String(7), nullable=True),  # the demand's first month with a close
    Column("rating_sum", Integer, nullable=False, default=0),
    Column("ratings", Integer, nullable=False, default=0),
    Index("ix_demand_months_month_jurisdiction", "month", "jurisdiction"),
)

# Each unit's demand inputs summed per month as the facts are attributed (attribution):
# what scorecards and rankings add up instead of every fact. ``prev``: the previous month
# in which the same demand reached the same stage for the unit ('' for none: the demand
# counts once in a period); ``next``: for "closed", the unit's next month with a close of
# the demand ('' for none: the month's last close is the period's last).
unit_tallies = Table(
    "unit_tallies",
    metadata,
    Column("unit_id", String(40), primary_key=True),
    Column("month", String(7), primary_key=True),
    Column("input", String(40), primary_key=True),
    Column("prev", String(7), primary_key=True),
    Column("next", String(7), primary_key=True),
    Column("n", Integer, nullable=False),  # demands (ratings for "satisfaction")
    Column("total", Integer, nullable=False),  # closed: on time; satisfaction: the ratings' sum
)

demand_owners = Table(
    "demand_owners",
    metadata,
    Column("demand_code", String(DEMAND_CODE_LENGTH), primary_key=True),
    Column("unit_type", String(20), nullable=False),
    Column("unit_id", String(40), nullable=False, index=True),
    Column("unit_name", String(200), nullable=False),
    Column("jurisdiction", String(CODE_LENGTH), nullable=False),
    Column("category", String(40), nullable=False),
)

owner_history = Table(  # every owner a demand had, from when: facts go to the owner of their day
    "owner_history",
    metadata,
    Column("event_id", String(36), primary_key=True),
    Column("demand_code", String(DEMAND_CODE_LENGTH), nullable=False, index=True),
    Column("since", UtcDateTime(), nullable=False),
    Column("unit_type", String(20), nullable=False),
    Column("unit_id", String(40), nullable=False, index=True),
    Column("unit_name", String(200), nullable=False),
)

visit_heads = Table(  # the newest version of each visit counted (revisions in any order)
    "visit_heads",
    metadata,
    Column("visit_id", String(36), primary_key=True),
    Column("version", Integer, nullable=False),
)

visit_enterprises = Table(  # enterprises served by visits, for coverage KPIs
    "visit_enterprises",
    metadata,
    Column("event_id", String(36), primary_key=True),
    Column("credit_code", String(18), primary_key=True, index=True),  # an enterprise's visits
    Column("jurisdiction", String(CODE_LENGTH), nullable=False),
    Column("period", String(7), nullable=False, index=True),
    Column("day", Date, nullable=True, index=True),  # the visit's day
    Column("visit_id", String(36), nullable=True, index=True),
)

units = Table(
    "units",
    metadata,
    Column("id", String(40), primary_key=True),
    Column("type", String(20), nullable=False),
    Column("name", String(200), nullable=False),
    Column("jurisdiction", String(CODE_LENGTH), nullable=False, index=True),
)

enterprises = Table(
    "enterprises",
    metadata,
    Column("credit_code", String(18), primary_key=True),
    Column("jurisdiction", String(CODE_LENGTH), nullable=False, index=True),
    Column("growth_tier", String(40), nullable=True),
    Column("needs_named_person", Boolean, nullable=False, default=False),
    Column("needs_one_plan", Boolean, nullable=False, default=False),
)

tier_history = Table(  # each growth-tier change, dated: growth and new certifications
    "tier_history",
    metadata,
    Column("event_id", String(36), primary_key=True),
    Column("credit_code", String(18), nullable=False, index=True),
    Column("growth_tier", String(40), nullable=True),
    Column("since", Date, nullable=False),  # the China-time day of the change
    Column("at", UtcDateTime(), nullable=True),  # the instant: orders same-day changes
)

manual_records = Table(  # records no event carries: entered with evidence, never edited
    "manual_records",
    metadata,
    Column("id", String(36), primary_key=True),
    Column("unit_type", String(20), nullable=False),
    Column("unit_id", String(40), nullable=False, index=True),
    Column("jurisdiction", String(CODE_LENGTH), nullable=False, index=True),
    Column("period", String(7), nullable=False, index=True),
    Column("kind", String(40), nullable=False),
    Column("value", Float, nullable=False),
    Column("evidence", String(2000), nullable=False),
    Column("note", String(2000), nullable=False),
    Column("actor", String(100), nullable=False),
    Column("at", UtcDateTime(), nullable=False),
    Column("retracted_at", UtcDateTime(), nullable=True),
    Column("retracted_by", String(100), nullable=True),
    Column("retract_reason", String(500), nullable=True),
)

rule_sets = Table(
    "rule_sets",
    metadata,
    Column("jurisdiction", String(CODE_LENGTH), primary_key=True),
    Column("version", Integer, primary_key=True),
    Column("effective_from", Date, nullable=False),
    Column("body", Text, nullable=False),
    Column("published_by", String(100), nullable=False),
    Column("published_at", UtcDateTime(), nullable=False),
)

# Every table above is derived from events: `onestop rebuild scoring` empties them and
# replays the archive.
REBUILT_FROM_EVENTS = [
    owner_history,
    visit_heads,
    tally_records,
    demand_facts,
    demand_months,
    unit_tallies,
    demand_owners,
    visit_enterprises,
    units,
    enterprises,
    tier_history,
    manual_records,
    rule_sets,
]
