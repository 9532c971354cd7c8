"""Visits's tables hold any unit code of the tree (up to 27 characters,
``630102001-P0001-S0001-W0001``) and a demand code that embeds one (up to 39)."""

from services.visits.models import metadata
from tests.support import assert_code_columns

UNIT_CODES = [
    "demands.jurisdiction",
    "enterprise_links.jurisdiction",
    "enterprises.jurisdiction",
    "frequency_rules.jurisdiction",
    "overdue_flags.jurisdiction",
    "plans.jurisdiction",
    "stations.jurisdiction",
    "teams.jurisdiction",
    "teams.linked_city",
    "units.jurisdiction",
    "visit_enterprises.enterprise_jurisdiction",
    "visits.jurisdiction",
]
DEMAND_CODES = ["demands.code", "enterprise_links.last_demand_code", "visit_demands.demand_code"]


def test_unit_and_demand_code_columns_take_the_deepest_and_none_is_missed():
    assert_code_columns(metadata, UNIT_CODES, DEMAND_CODES)
