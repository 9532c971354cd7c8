"""Dispatch's tables hold any unit code of the tree (up to 27 characters,
``630102001-P0001-S0001-W0001``) and a demand code that embeds one (up to 39)."""

from services.dispatch.models import metadata
from tests.support import assert_code_columns

UNIT_CODES = [
    "agencies.jurisdiction",
    "alliance_rules.city",
    "alliances.city",
    "assignments.city",
    "assignments.jurisdiction",
    "blacklist.city",
    "breaches.jurisdiction",
    "cotasks.cohandler_jurisdiction",
    "cotasks.jurisdiction",
    "decisions.city",
    "decisions.jurisdiction",
    "departments.jurisdiction",
    "enterprises.jurisdiction",
    "experts.jurisdiction",
    "menu_items.city",
    "month_closes.city",
    "rotation_pointers.city",
    "standing_links.jurisdiction",
]
DEMAND_CODES = [
    "assignments.demand_code",
    "breaches.demand_code",
    "cotasks.demand_code",
    "decisions.demand_code",
    "demand_complexity.demand_code",
]


def test_unit_and_demand_code_columns_take_the_deepest_and_none_is_missed():
    assert_code_columns(metadata, UNIT_CODES, DEMAND_CODES)
