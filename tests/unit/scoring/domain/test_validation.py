"""A rule set's validation: caps, weights, inputs, targets — each problem named by where it
is, several reported together."""

from __future__ import annotations

import copy

import pytest

from services.scoring.domain.evaluation import Inputs, score_item
from services.scoring.domain.table import DEFAULT_RULE_SET
from services.scoring.domain.validation import (
    RuleSetError,
    item_problem,
    target_problems,
    validate,
)


def test_the_default_validates_with_one_note_about_satisfaction():
    notes = validate(DEFAULT_RULE_SET)
    assert len(notes) == 1
    [note] = notes
    assert "satisfaction" in note and "20" in note and "10" in note


def rejected(body) -> dict[str, str]:
    with pytest.raises(RuleSetError) as exc:
        validate(body)
    return exc.value.problems


def mutated(fn) -> dict:
    body = copy.deepcopy(DEFAULT_RULE_SET)
    fn(body)
    return body


def part(body, name):
    return next(p for p in body["parts"] if p["part"] == name)


def test_item_caps_exceeding_the_parts_points_are_rejected():
    def raise_cap(b):
        part(b, "service")["items"][0]["cap"] = 16  # visits 16 + efficiency 15 > 30

    problems = rejected(mutated(raise_cap))
    assert set(problems) == {"parts[1].points"}
    assert "31" in problems["parts[1].points"] and "30" in problems["parts[1].points"]


def test_a_negative_weight_is_rejected():
    def neg(b):
        part(b, "solving")["items"][1]["weights"]["tech_matched"] = -10

    problems = rejected(mutated(neg))
    assert set(problems) == {"parts[4].items[1]"}
    assert "tech_matched" in problems["parts[4].items[1]"]
    assert ">= 0" in problems["parts[4].items[1]"]


def test_a_boolean_weight_is_not_a_number():
    def boolean(b):
        part(b, "applications")["items"][0]["weights"]["assisted_application"] = True

    assert set(rejected(mutated(boolean))) == {"parts[3].items[0]"}


def test_an_unknown_kind_is_rejected():
    def unknown(b):
        part(b, "conduct")["items"][0]["kind"] = "vibes"

    problems = rejected(mutated(unknown))
    assert set(problems) == {"parts[0].items[0]"}
    assert "kind" in problems["parts[0].items[0]"]


@pytest.mark.parametrize(
    "where,change",
    [
        ("parts[0].items[1]", lambda b: part(b, "conduct")["items"][1].update(input="charisma")),
        ("parts[1].items[0]", lambda b: part(b, "service")["items"][0].update(input="calls")),
        ("parts[1].items[1]", lambda b: part(b, "service")["items"][1].update(numerator="done")),
        ("parts[2].items[0]", lambda b: part(b, "satisfaction")["items"][0].update(input="smiles")),
        ("parts[5].items[0]", lambda b: part(b, "research")["items"][0]["weights"].update(tweet=1)),
    ],
)
def test_an_unknown_input_name_is_rejected(where, change):
    problems = rejected(mutated(change))
    assert set(problems) == {where}


def test_an_unknown_override_input_is_rejected():
    def typo(b):
        part(b, "service")["items"][1]["override"] = "efficency_override"

    body = mutated(typo)
    overridden = Inputs(counts={"closed": 4}, overrides={"efficiency_override": 15})
    assert score_item(part(body, "service")["items"][1], overridden)[0] == 0  # silently ignored
    assert set(rejected(body)) == {"parts[1].items[1]"}


def test_a_weighted_input_names_the_unknown_input():
    def unknown(b):
        part(b, "research")["items"][0]["weights"]["tweet"] = 1

    problems = rejected(mutated(unknown))
    assert "tweet" in problems["parts[5].items[0]"]


def test_a_duplicate_item_name_is_rejected():
    def dup(b):
        part(b, "solving")["items"][1]["item"] = "visits"

    problems = rejected(mutated(dup))
    assert set(problems) == {"parts[4].items[1]"}
    assert "visits" in problems["parts[4].items[1]"] and "twice" in problems["parts[4].items[1]"]


def test_parts_above_100_are_rejected():
    def extra(b):
        b["parts"].append(
            {
                "part": "extra",
                "points": 20,
                "items": [
                    {"item": "extra", "kind": "weighted", "weights": {"paper": 1}, "cap": 20}
                ],
            }
        )

    problems = rejected(mutated(extra))
    assert set(problems) == {"parts"}
    assert "120" in problems["parts"]  # 90 + 10 bonus + 20


def test_bonus_parts_count_towards_100_too():
    def bonus(b):
        b["parts"].append(
            {
                "part": "extra",
                "points": 20,
                "bonus": True,
                "items": [
                    {"item": "extra", "kind": "weighted", "weights": {"paper": 1}, "cap": 20}
                ],
            }
        )

    assert "120" in rejected(mutated(bonus))["parts"]  # a total above 100 is refused


def test_a_part_counts_at_most_what_its_items_give_towards_100():
    # satisfaction declares 20 but gives 10: without the bonus, another part may grow by 10
    def more(b):
        part(b, "applications")["points"] = 20
        part(b, "applications")["items"][0]["cap"] = 20
        b["parts"] = [p for p in b["parts"] if not p.get("bonus")]

    assert len(validate(mutated(more))) == 1


@pytest.mark.parametrize("cap", [0, -1, "10", None, True])
def test_a_cap_must_be_positive(cap):
    def zero(b):
        part(b, "conduct")["items"][0]["cap"] = cap

    problems = rejected(mutated(zero))
    assert set(problems) == {"parts[0].items[0]"}
    assert "cap" in problems["parts[0].items[0]"]


@pytest.mark.parametrize(
    "name",
    ["tech_sme_coverage", "hitech_candidate_coverage", "station_incubated_share", "annual_growth"],
)
@pytest.mark.parametrize("value", [-0.01, 1.01, 15, "0.15", True])
def test_targets_outside_0_1_are_rejected(name, value):
    problems = rejected(mutated(lambda b: b["targets"].__setitem__(name, value)))
    assert set(problems) == {f"targets.{name}"}


@pytest.mark.parametrize("value", [0, 1, 0.5, None])
def test_targets_at_0_and_1_are_allowed(value):
    assert validate(mutated(lambda b: b["targets"].__setitem__("annual_growth", value)))


@pytest.mark.parametrize("name", ["base_tech_smes", "base_hitech_enterprises"])
@pytest.mark.parametrize("value", [-1, 1.5, "3", True])
def test_negative_or_non_integer_base_counts_are_rejected(name, value):
    problems = rejected(mutated(lambda b: b["targets"].__setitem__(name, value)))
    assert set(problems) == {f"targets.{name}"}


@pytest.mark.parametrize("value", [0, 120, None])
def test_base_counts_zero_or_more_or_null_are_allowed(value):
    assert validate(mutated(lambda b: b["targets"].__setitem__("base_tech_smes", value)))


def test_several_problems_are_reported_together():
    def many(b):
        part(b, "conduct")["items"][0]["kind"] = "vibes"
        part(b, "solving")["items"][0]["weights"]["general_solved"] = -1
        b["targets"]["annual_growth"] = 2

    problems = rejected(mutated(many))
    assert set(problems) == {"parts[0].items[0]", "parts[4].items[0]", "targets.annual_growth"}


@pytest.mark.parametrize("body", [{}, {"parts": []}, {"parts": "x"}])
def test_a_rule_set_needs_parts(body):
    assert set(rejected(body)) == {"parts"}


def test_a_part_needs_positive_points_and_items():
    assert set(rejected(mutated(lambda b: part(b, "conduct").update(points=0)))) == {
        "parts[0].points"
    }
    assert set(rejected(mutated(lambda b: part(b, "conduct").update(items=[])))) == {
        "parts[0].items"
    }


def test_rule_set_error_message_names_each_field():
    err = RuleSetError({"a": "x", "b": "y"})
    assert str(err) == "a: x; b: y"
    assert isinstance(err, ValueError)


# --- each kind's own checks (item_problem) and the targets' ------------------------------------

ITEM = {i["item"]: i for p in DEFAULT_RULE_SET["parts"] for i in p["items"]}


def changed(item: str, **change) -> dict:
    return {**copy.deepcopy(ITEM[item]), **change}


def test_every_default_item_is_sound():
    assert all(item_problem(i) is None for i in ITEM.values())


@pytest.mark.parametrize(
    "item,expected",
    [
        ("not an item", "an item is an object with a name ('item')"),
        ({"item": 3}, "an item is an object with a name ('item')"),
        ({"item": "x", "kind": ["rating"]}, "kind must be one of"),
        ({"item": "x", "kind": "rating", "cap": float("nan")}, "cap is a positive number"),
        ({"item": "x", "kind": "rating", "cap": 10**7}, "cap is a positive number"),
        (changed("integrity", max=0), "a rating names a rating input and a positive max"),
        (changed("integrity", input="visits"), "a rating names a rating input"),
        (changed("visits", floor=-1), "a threshold names a count input and a floor >= 0"),
        (changed("visits", floor=None), "a threshold names a count input and a floor >= 0"),
        (changed("visits", per_months=0), "per_months is a whole number of months, 1 to 120"),
        (changed("visits", per_months=121), "per_months is a whole number of months"),
        (changed("visits", per_months=1.5), "per_months is a whole number of months"),
        (changed("efficiency", denominator="x"), "a share names count inputs"),
        (changed("efficiency", override="x"), "override must be one of efficiency_override"),
        (changed("satisfaction", scale=[5, 1]), "an average names a rating input and a scale"),
        (changed("satisfaction", scale=[1]), "an average names a rating input and a scale"),
        (changed("satisfaction", scale=[1, "5"]), "an average names a rating input and a scale"),
        (changed("satisfaction", input="visits"), "an average names a rating input"),
        (changed("research", weights={}), "weighted items have weights"),
        (changed("research", weights=[1]), "weighted items have weights"),
        (changed("research", weights={"paper": float("inf")}), "weight of 'paper' must be"),
    ],
)
def test_item_problems_name_what_the_kind_needs(item, expected):
    problem = item_problem(item)
    assert problem is not None and problem.startswith(expected)


@pytest.mark.parametrize("per_months", [None, 1, 12, 120])
def test_a_threshold_may_leave_out_per_months_or_give_1_to_120(per_months):
    assert item_problem(changed("visits", per_months=per_months)) is None


def test_a_share_without_an_override_is_sound():
    item = changed("efficiency")
    del item["override"]
    assert item_problem(item) is None


def test_targets_are_an_object():
    assert target_problems(None) == {"targets": "targets is an object"}
    assert target_problems([]) == {"targets": "targets is an object"}
    assert target_problems({}) == {}
    assert set(rejected(mutated(lambda b: b.update(targets=None)))) == {"targets"}


def test_a_rule_set_without_targets_is_sound():
    body = mutated(lambda b: b.pop("targets"))
    assert len(validate(body)) == 1


def test_a_part_that_is_not_an_object_is_named_by_its_index():
    problems = rejected(mutated(lambda b: b["parts"].insert(0, "conduct")))
    assert problems == {"parts[0]": "a part is an object with a name ('part')"}


def test_an_unsound_item_gives_nothing_towards_its_parts_caps():
    # the unsound item is reported, and the part's other items still count: 5 < 10 is a note
    def unsound(b):
        part(b, "conduct")["items"][0]["kind"] = "vibes"

    problems = rejected(mutated(unsound))
    assert set(problems) == {"parts[0].items[0]"}


@pytest.mark.parametrize("value", [["satisfaction"], {"a": 1}, 3, None])
@pytest.mark.parametrize(
    "where,field",
    [
        ("parts[0].items[1]", "input"),  # a rating
        ("parts[1].items[0]", "input"),  # a threshold
        ("parts[1].items[1]", "numerator"),  # a share
        ("parts[1].items[1]", "override"),
        ("parts[2].items[0]", "input"),  # an average
        ("parts[0].items[1]", "kind"),
    ],
)
def test_a_name_that_is_not_text_is_a_problem_not_a_crash(where, field, value):
    """A list or an object where an input's name belongs was a TypeError (a 500)."""
    if field == "override" and value is None:
        return  # no override is allowed
    index = int(where[6])
    item_index = int(where[-2])
    problems = rejected(
        mutated(lambda b: b["parts"][index]["items"][item_index].update({field: value}))
    )
    assert set(problems) == {where}
