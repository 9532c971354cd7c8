"""Scoring's tables hold any unit code of the tree (up to 27 characters,
``630102001-P0001-S0001-W0001``) and a demand code that embeds one (up to 39)."""

from services.scoring.models import metadata
from tests.support import assert_code_columns

UNIT_CODES = [
    "demand_facts.jurisdiction",
    "demand_months.jurisdiction",
    "demand_owners.jurisdiction",
    "enterprises.jurisdiction",
    "manual_records.jurisdiction",
    "rule_sets.jurisdiction",
    "tally_records.jurisdiction",
    "units.jurisdiction",
    "visit_enterprises.jurisdiction",
]
DEMAND_CODES = [
    "demand_facts.demand_code",
    "demand_months.demand_code",
    "demand_owners.demand_code",
    "owner_history.demand_code",
    "tally_records.demand_code",
]


def test_unit_and_demand_code_columns_take_the_deepest_and_none_is_missed():
    assert_code_columns(metadata, UNIT_CODES, DEMAND_CODES)
