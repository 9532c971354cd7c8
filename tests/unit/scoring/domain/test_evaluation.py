"""Table A.1 (XN 附录A) evaluated: every item at and around its boundaries with the seed's
own numbers, whole scorecards, ranks and the rule texts."""

from __future__ import annotations

import random

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from services.scoring.domain.evaluation import (
    Inputs,
    competition_ranks,
    evaluate,
    rule_text,
    score_item,
)
from services.scoring.domain.table import COUNT_INPUTS, DEFAULT_RULE_SET

ITEMS = {i["item"]: i for p in DEFAULT_RULE_SET["parts"] for i in p["items"]}
PARTS = {p["part"]: p for p in DEFAULT_RULE_SET["parts"]}


def points(item: str, **kw) -> float:
    pts, _ = score_item(ITEMS[item], Inputs(**kw))
    return pts


def basis(item: str, **kw) -> dict:
    _, b = score_item(ITEMS[item], Inputs(**kw))
    return b


# --- conduct (10): integrity and attitude, 0–5 rated by a supervisor ------------------------


@pytest.mark.parametrize(
    "item,input_", [("integrity", "integrity_rating"), ("attitude", "attitude_rating")]
)
@pytest.mark.parametrize(
    "ratings,expected",
    [
        ([0], 0),
        ([5], 5),
        ([3], 3),
        ([4, 5], 4.5),
        ([2, 3, 5], 10 / 3),
        ([0, 5], 2.5),
    ],
)
def test_ratings_are_the_periods_average(item, input_, ratings, expected):
    assert points(item, ratings={input_: ratings}) == pytest.approx(expected)
    assert basis(item, ratings={input_: ratings}) == {input_: pytest.approx(expected)}


@pytest.mark.parametrize(
    "item,input_", [("integrity", "integrity_rating"), ("attitude", "attitude_rating")]
)
def test_nothing_rated_gives_zero(item, input_):
    assert points(item) == 0
    assert points(item, ratings={input_: []}) == 0
    assert basis(item) == {input_: None}


def test_ratings_are_clamped_to_0_5():
    assert points("integrity", ratings={"integrity_rating": [7]}) == 5
    assert points("attitude", ratings={"attitude_rating": [-2]}) == 0


def test_one_rating_does_not_feed_the_other_item():
    assert points("attitude", ratings={"integrity_rating": [5]}) == 0


# --- service (30): visits = clamp(n − 15, 0, 15) -------------------------------------------


@pytest.mark.parametrize(
    "visits,expected",
    [(0, 0), (1, 0), (14, 0), (15, 0), (16, 1), (20, 5), (29, 14), (30, 15), (31, 15), (100, 15)],
)
def test_visits_threshold(visits, expected):
    assert points("visits", counts={"visits": visits}) == expected
    assert basis("visits", counts={"visits": visits}) == {"visits": visits}


def test_no_visits_gives_zero():
    assert points("visits") == 0


# --- service: efficiency = 15 × on time / closed, a supervisor's override wins --------------


@pytest.mark.parametrize(
    "closed,on_time,expected",
    [(4, 3, 11.25), (4, 4, 15), (4, 0, 0), (1, 1, 15), (3, 1, 5), (0, 0, 0)],
)
def test_efficiency_is_the_share_closed_on_time(closed, on_time, expected):
    counts = {"closed": closed, "closed_on_time": on_time}
    assert points("efficiency", counts=counts) == pytest.approx(expected)
    assert basis("efficiency", counts=counts) == {"closed_on_time": on_time, "closed": closed}


def test_efficiency_with_nothing_closed_is_zero_not_an_error():
    assert points("efficiency") == 0


@pytest.mark.parametrize(
    "override,expected", [(7, 7), (0, 0), (15, 15), (12.5, 12.5), (20, 15), (-3, 0)]
)
def test_efficiency_override_wins_and_is_clamped(override, expected):
    inputs = {
        "counts": {"closed": 4, "closed_on_time": 3},
        "overrides": {"efficiency_override": override},
    }
    assert points("efficiency", **inputs) == expected
    assert basis("efficiency", **inputs) == {
        "closed_on_time": 3,
        "closed": 4,
        "efficiency_override": override,
    }


def test_efficiency_never_exceeds_its_cap_even_with_more_on_time_than_closed():
    assert points("efficiency", counts={"closed": 1, "closed_on_time": 2}) <= 15
    card = evaluate(DEFAULT_RULE_SET, Inputs(counts={"closed": 1, "closed_on_time": 2}))
    items = {i["item"]: i for p in card["parts"] for i in p["items"]}
    assert items["efficiency"]["points"] <= items["efficiency"]["cap"]


def test_efficiency_override_applies_with_nothing_closed():
    assert points("efficiency", overrides={"efficiency_override": 9}) == 9


# --- satisfaction (declared 20, item 0–10): the 1–5 average mapped to 0–10 ------------------


@pytest.mark.parametrize(
    "ratings,expected",
    [([1], 0), ([5], 10), ([3], 5), ([4.5], 8.75), ([4, 5], 8.75), ([2], 2.5), ([1, 5], 5)],
)
def test_satisfaction_maps_1_5_to_0_10(ratings, expected):
    assert points("satisfaction", ratings={"satisfaction": ratings}) == pytest.approx(expected)


def test_no_satisfaction_rating_gives_zero():
    assert points("satisfaction") == 0
    assert basis("satisfaction") == {"satisfaction": None}


def test_satisfaction_outside_the_scale_is_clamped():
    assert points("satisfaction", ratings={"satisfaction": [0]}) == 0
    assert points("satisfaction", ratings={"satisfaction": [6]}) == 10


# --- applications (10): 10 per assisted, 5 per successful, max 10 ---------------------------


@pytest.mark.parametrize(
    "assisted,successful,expected",
    [(0, 0, 0), (1, 0, 10), (0, 1, 5), (1, 1, 10), (0, 2, 10), (0, 3, 10), (2, 0, 10)],
)
def test_applications(assisted, successful, expected):
    counts = {"assisted_application": assisted, "successful_application": successful}
    assert points("applications", counts=counts) == expected
    assert basis("applications", counts=counts)["uncapped"] == 10 * assisted + 5 * successful


# --- solving (30): general demands 1 each max 10; technology stages max 20 ------------------


@pytest.mark.parametrize("solved,expected", [(0, 0), (1, 1), (9, 9), (10, 10), (11, 10), (50, 10)])
def test_general_demands(solved, expected):
    assert points("general_demands", counts={"general_solved": solved}) == expected


@pytest.mark.parametrize(
    "stage,weight",
    [
        ("tech_collected", 1),
        ("tech_analysed", 2),
        ("tech_published", 3),
        ("tech_matched", 10),
        ("tech_solved", 20),
    ],
)
def test_technology_stage_weights(stage, weight):
    assert points("technology_demands", counts={stage: 1}) == weight


def test_technology_stages_add_up_and_are_capped_at_20():
    assert points("technology_demands", counts={"tech_matched": 1, "tech_published": 1}) == 13
    b = basis("technology_demands", counts={"tech_solved": 1, "tech_collected": 1})
    assert points("technology_demands", counts={"tech_solved": 1, "tech_collected": 1}) == 20
    assert b["uncapped"] == 21
    assert b["tech_solved"] == 1 and b["tech_collected"] == 1 and b["tech_matched"] == 0
    # 1 + 2 + 3 + 10 = 16: the whole pipeline short of solving stays under the cap
    pipeline = {"tech_collected": 1, "tech_analysed": 1, "tech_published": 1, "tech_matched": 1}
    assert points("technology_demands", counts=pipeline) == 16
    assert points("technology_demands", counts={"tech_matched": 2}) == 20
    assert points("technology_demands", counts={"tech_collected": 19}) == 19
    assert points("technology_demands", counts={"tech_collected": 20}) == 20


def test_general_and_technology_counts_do_not_mix():
    assert points("general_demands", counts={"tech_solved": 3}) == 0
    assert points("technology_demands", counts={"general_solved": 3}) == 0


# --- research (bonus, max 10) ----------------------------------------------------------------


@pytest.mark.parametrize(
    "counts,expected",
    [
        ({"paper": 2, "project": 1}, 9),
        ({"invention_patent": 1, "standard": 1, "utility_patent": 1}, 10),
        ({"paper": 1}, 2),
        ({"project": 1}, 5),
        ({"achievement": 1}, 2),
        ({"invention_patent": 1}, 5),
        ({"utility_patent": 1}, 2),
        ({"standard": 1}, 3),
        ({"paper": 2, "project": 1, "standard": 1}, 10),
        ({"invention_patent": 3}, 10),
    ],
)
def test_research_bonus(counts, expected):
    assert points("research", counts=counts) == expected


def test_research_is_a_bonus_part():
    assert PARTS["research"]["bonus"] is True
    assert all(not p.get("bonus") for name, p in PARTS.items() if name != "research")


# --- whole scorecards ------------------------------------------------------------------------

MAXIMAL = Inputs(
    counts={
        "visits": 30,
        "closed": 4,
        "closed_on_time": 4,
        "assisted_application": 1,
        "general_solved": 10,
        "tech_solved": 1,
        "paper": 5,
    },
    ratings={"integrity_rating": [5], "attitude_rating": [5], "satisfaction": [5]},
)


def test_a_maximal_scorecard_totals_exactly_100():
    card = evaluate(DEFAULT_RULE_SET, MAXIMAL)
    assert card["total"] == 100
    subtotals = {p["part"]: p["subtotal"] for p in card["parts"]}
    assert subtotals == {
        "conduct": 10,
        "service": 30,
        "satisfaction": 10,  # declared 20, the item gives 10 (table A.1 literally)
        "applications": 10,
        "solving": 30,
        "research": 10,
    }
    assert sum(p["subtotal"] for p in card["parts"] if not p["bonus"]) == 90


def test_an_empty_scorecard_is_zero_and_lists_every_item():
    card = evaluate(DEFAULT_RULE_SET, Inputs())
    assert card["total"] == 0
    assert [i["item"] for p in card["parts"] for i in p["items"]] == list(ITEMS)
    for p in card["parts"]:
        for i in p["items"]:
            assert i["points"] == 0
            assert i["rule"] == rule_text(ITEMS[i["item"]])
            assert i["cap"] == ITEMS[i["item"]]["cap"]


def test_scorecard_items_carry_points_rule_and_basis():
    card = evaluate(
        DEFAULT_RULE_SET,
        Inputs(
            counts={
                "visits": 16,
                "closed": 4,
                "closed_on_time": 3,
                "tech_solved": 1,
                "tech_collected": 1,
            }
        ),
    )
    items = {i["item"]: i for p in card["parts"] for i in p["items"]}
    assert items["visits"]["points"] == 1
    assert items["efficiency"]["points"] == 11.25
    assert items["technology_demands"]["points"] == 20
    assert items["technology_demands"]["basis"]["uncapped"] == 21
    assert card["total"] == 1 + 11.25 + 20


def test_points_are_rounded_to_two_decimals():
    card = evaluate(DEFAULT_RULE_SET, Inputs(counts={"closed": 3, "closed_on_time": 2}))
    [eff] = [i for p in card["parts"] for i in p["items"] if i["item"] == "efficiency"]
    assert eff["points"] == 10.0
    card = evaluate(DEFAULT_RULE_SET, Inputs(counts={"closed": 7, "closed_on_time": 1}))
    [eff] = [i for p in card["parts"] for i in p["items"] if i["item"] == "efficiency"]
    assert eff["points"] == 2.14


counts_st = st.dictionaries(st.sampled_from(COUNT_INPUTS), st.integers(0, 200))
ratings_st = st.dictionaries(
    st.sampled_from(["integrity_rating", "attitude_rating", "satisfaction"]),
    st.lists(st.floats(-10, 10, allow_nan=False), max_size=4),
)


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    counts=counts_st, ratings=ratings_st, override=st.none() | st.floats(-50, 50, allow_nan=False)
)
def test_subtotals_never_exceed_the_parts_points(counts, ratings, override):
    # on time never exceeds closed in collected inputs
    if counts.get("closed_on_time", 0) > counts.get("closed", 0):
        counts["closed_on_time"] = counts.get("closed", 0)
    overrides = {} if override is None else {"efficiency_override": override}
    card = evaluate(DEFAULT_RULE_SET, Inputs(counts=counts, ratings=ratings, overrides=overrides))
    for p in card["parts"]:
        assert 0 <= p["subtotal"] <= p["points"]
        for i in p["items"]:
            assert 0 <= i["points"] <= i["cap"]
    assert 0 <= card["total"] <= 100


def test_subtotal_is_capped_even_when_items_could_exceed_the_part():
    # an unvalidated body whose items' caps exceed the part: evaluate still caps the part
    body = {
        "parts": [
            {
                "part": "p",
                "points": 10,
                "items": [
                    {"item": "a", "kind": "weighted", "weights": {"paper": 1}, "cap": 8},
                    {"item": "b", "kind": "weighted", "weights": {"project": 1}, "cap": 8},
                ],
            }
        ]
    }
    card = evaluate(body, Inputs(counts={"paper": 8, "project": 8}))
    assert card["parts"][0]["subtotal"] == 10
    assert card["total"] == 10


def test_random_inputs_keep_every_part_within_its_points():
    rng = random.Random(20261125)
    for _ in range(500):
        counts = {name: rng.randint(0, 40) for name in COUNT_INPUTS}
        counts["closed_on_time"] = rng.randint(0, counts["closed"])
        card = evaluate(
            DEFAULT_RULE_SET,
            Inputs(
                counts=counts,
                ratings={
                    "integrity_rating": [rng.uniform(0, 5)],
                    "attitude_rating": [rng.uniform(0, 5)],
                    "satisfaction": [rng.randint(1, 5)],
                },
            ),
        )
        for p in card["parts"]:
            assert p["subtotal"] <= p["points"]


# --- ranks and texts ---------------------------------------------------------------------------


def test_competition_ranks_share_ties():
    ranks = competition_ranks([("d", 50), ("a", 90), ("c", 70), ("b", 70)])
    assert ranks == {"a": 1, "b": 2, "c": 2, "d": 4}


def test_competition_ranks_more_ties():
    assert competition_ranks([]) == {}
    assert competition_ranks([("x", 0)]) == {"x": 1}
    assert competition_ranks([("x", 5), ("y", 5), ("z", 5)]) == {"x": 1, "y": 1, "z": 1}
    assert competition_ranks([("a", 9), ("b", 8), ("c", 8), ("d", 8), ("e", 1)]) == {
        "a": 1,
        "b": 2,
        "c": 2,
        "d": 2,
        "e": 5,
    }


def test_rule_text_of_visits_mentions_30_and_15():
    text = rule_text(ITEMS["visits"])
    assert "30" in text and "15" in text


def test_rule_text_of_every_item():
    assert "5" in rule_text(ITEMS["integrity"])
    assert "efficiency_override" in rule_text(ITEMS["efficiency"])
    assert "1–5" in rule_text(ITEMS["satisfaction"]) and "0–10" in rule_text(ITEMS["satisfaction"])
    tech = rule_text(ITEMS["technology_demands"])
    for fragment in (
        "tech_collected 1",
        "tech_analysed 2",
        "tech_published 3",
        "tech_matched 10",
        "tech_solved 20",
        "at most 20",
    ):
        assert fragment in tech
    assert "at most 10" in rule_text(ITEMS["research"])
