"""Intake's tables hold any unit code of the tree (up to 27 characters,
``630102001-P0001-S0001-W0001``) and a demand code that embeds one (up to 39)."""

from services.intake.models import metadata
from tests.support import assert_code_columns

UNIT_CODES = [
    "demand_sequences.jurisdiction",
    "demands.jurisdiction",
    "enterprises.jurisdiction",
    "time_limit_rules.jurisdiction",
]
DEMAND_CODES = [
    "callback_deliveries.demand_code",
    "demand_imports.demand_code",
    "demand_updates.demand_code",
    "demands.code",
]


def test_unit_and_demand_code_columns_take_the_deepest_and_none_is_missed():
    assert_code_columns(metadata, UNIT_CODES, DEMAND_CODES)
