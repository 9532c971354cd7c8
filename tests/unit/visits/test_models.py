"""Visits's tables hold any unit code of the tree (up to 27 characters,
``630102001-P0001-S0001-W0001``) and a demand code that embeds one (up to 39)."""

from services.visits.models import metadata
from shared.contracts.intake import DEMAND_CODE_LENGTH
from shared.directory import CODE_LENGTH

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


def width(name: str) -> int:
    table, column = name.split(".")
    return metadata.tables[table].c[column].type.length


def test_every_column_of_a_unit_code_takes_the_deepest():
    assert {n: width(n) for n in UNIT_CODES} == dict.fromkeys(UNIT_CODES, CODE_LENGTH)


def test_every_column_of_a_demand_code_takes_one_filed_in_the_deepest_unit():
    assert {n: width(n) for n in DEMAND_CODES} == dict.fromkeys(DEMAND_CODES, DEMAND_CODE_LENGTH)


def test_no_other_column_is_named_like_a_unit_code():
    named = {
        f"{t.name}.{c.name}"
        for t in metadata.sorted_tables
        if t.name not in ("jurisdictions", "api_keys")
        for c in t.columns
        if c.name in ("jurisdiction", "city", "county", "linked_city", "enterprise_jurisdiction")
    }
    assert named <= set(UNIT_CODES)


def test_no_other_column_is_named_like_a_demand_code():
    named = {
        f"{t.name}.{c.name}"
        for t in metadata.sorted_tables
        for c in t.columns
        if c.name in ("demand_code", "last_demand_code")
    }
    assert named <= set(DEMAND_CODES)
