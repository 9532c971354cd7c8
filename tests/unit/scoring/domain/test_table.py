"""Table A.1 as data: the default rule set, its targets."""

from __future__ import annotations

from services.scoring.domain.table import DEFAULT_RULE_SET, default_rule_set, targets_of


def test_default_rule_set_is_a_copy():
    body = default_rule_set()
    body["parts"][0]["points"] = 999
    assert DEFAULT_RULE_SET["parts"][0]["points"] == 10


def test_targets_of_a_rule_set_fill_in_the_defaults():
    assert targets_of({}) == DEFAULT_RULE_SET["targets"]
    assert targets_of({"targets": None}) == DEFAULT_RULE_SET["targets"]
    mine = targets_of({"targets": {"base_tech_smes": 40, "annual_growth": 0.25}})
    assert mine["base_tech_smes"] == 40 and mine["annual_growth"] == 0.25
    assert mine["tech_sme_coverage"] == 0.15  # not given: the default
    assert DEFAULT_RULE_SET["targets"]["base_tech_smes"] is None  # the default untouched


def test_table_a1_parts_and_their_points():
    points = {p["part"]: p["points"] for p in DEFAULT_RULE_SET["parts"]}
    assert points == {
        "conduct": 10,
        "service": 30,
        "satisfaction": 20,
        "applications": 10,
        "solving": 30,
        "research": 10,
    }
    assert default_rule_set() == DEFAULT_RULE_SET
