"""The scorecard's pure core: facts in (as the queries gather them), each unit's inputs and
records out; the card and the ranking — no database."""

from __future__ import annotations

from datetime import UTC, datetime

from services.scoring.domain.evaluation import Inputs
from services.scoring.domain.facts import TECH_STAGES
from services.scoring.domain.scorecard import (
    Collected,
    DemandFact,
    ManualRecord,
    OwnerSpell,
    ScoringFacts,
    VisitTally,
    attributed,
    card,
    collect,
    item_inputs,
    owner_at,
    ranked,
    records_for,
)
from services.scoring.domain.table import DEFAULT_RULE_SET

A, B = "d-a", "d-b"
TECH = tuple(f"tech_{s}" for s in TECH_STAGES)


def at(day: int, hour: int = 2) -> datetime:
    return datetime(2026, 11, day, hour, tzinfo=UTC)


def fact(code: str, name: str, day: int, value: int | None = None, n: int = 0) -> DemandFact:
    return DemandFact(code, name, value, at(day), f"e-{code}-{name}-{day}-{n}")


def pipeline(code: str, *, on_time: int = 1, closed_day: int = 15) -> list[DemandFact]:
    return [
        fact(code, "collected", 2),
        fact(code, "analysed", 3),
        fact(code, "published", 4),
        fact(code, "matched", 5),
        fact(code, "solved", closed_day),
        fact(code, "closed", closed_day, on_time),
    ]


def owned(*spells: tuple[str, int, str]) -> list[OwnerSpell]:
    return [OwnerSpell(code, at(day), unit) for code, day, unit in spells]


def test_nothing_gathered_gives_empty_inputs_for_each_unit():
    out = collect([A, B], 3, ScoringFacts())
    assert set(out) == {A, B}
    assert out[A].inputs == Inputs(months=3)
    assert out[A].records == {}
    assert collect([], 1, ScoringFacts()) == {}


def test_a_technology_demand_through_every_stage_counts_each_stage_once():
    facts = ScoringFacts(
        owners=owned(("D1", 2, A)),
        categories={"D1": "technology"},
        demands=[*pipeline("D1"), fact("D1", "published", 9, n=1)],  # published again
    )
    c = collect([A], 1, facts)[A]
    assert c.inputs.counts == {**dict.fromkeys(TECH, 1), "closed": 1, "closed_on_time": 1}
    assert [r["event_id"] for r in c.records["tech_published"]] == ["e-D1-published-4-0"]
    assert c.records["closed"] == [{"source": "closed", "demand_code": "D1", "on_time": True}]


def test_a_general_demand_earns_only_when_solved():
    facts = ScoringFacts(
        owners=owned(("G1", 2, A)), categories={"G1": "ip"}, demands=pipeline("G1")
    )
    assert collect([A], 1, facts)[A].inputs.counts == {
        "general_solved": 1,
        "closed": 1,
        "closed_on_time": 1,
    }


def test_facts_go_to_the_owner_of_their_day_and_to_the_first_owner_before():
    spells = owned(("D1", 5, A), ("D1", 10, B))
    assert owner_at(spells, at(1)) == A  # before any assignment: the first owner
    assert owner_at(spells, at(7)) == A
    assert owner_at(spells, at(10)) == B
    assert owner_at([], at(7)) is None
    facts = ScoringFacts(
        owners=spells,
        categories={"D1": "technology"},
        demands=[fact("D1", "analysed", 3), fact("D1", "published", 12)],
    )
    assert [(f.fact, unit) for f, unit, _ in attributed(facts, [A, B])] == [
        ("analysed", A),
        ("published", B),
    ]
    out = collect([A, B], 1, facts)
    assert out[A].inputs.counts == {"tech_analysed": 1}
    assert out[B].inputs.counts == {"tech_published": 1}


def test_a_demand_nobody_scored_owns_does_not_count():
    facts = ScoringFacts(
        owners=owned(("D1", 2, "elsewhere")),
        categories={"D1": "technology"},
        demands=[*pipeline("D1"), fact("D2", "solved", 4)],  # D2: no owner at all
    )
    assert attributed(facts, [A]) == []
    assert collect([A], 1, facts)[A].inputs.counts == {}


def test_the_last_close_decides_and_an_unknown_timeliness_is_not_counted():
    facts = ScoringFacts(
        owners=owned(("D1", 2, A), ("D2", 2, A), ("D3", 2, A)),
        categories={"D1": "technology", "D2": "ip", "D3": "ip"},
        demands=[
            fact("D1", "closed", 10, 1),
            fact("D1", "closed", 18, 0),  # reclosed late: the last close decides
            fact("D2", "closed", 11, None),  # timeliness unknown
            fact("D3", "closed", 12, 1),
        ],
    )
    c = collect([A], 1, facts)[A]
    assert c.inputs.counts == {"closed": 2, "closed_on_time": 1}
    assert [r["demand_code"] for r in c.records["closed"]] == ["D1", "D3"]


def test_revisit_ratings_go_into_satisfaction_with_their_records():
    facts = ScoringFacts(
        owners=owned(("D1", 2, A)),
        demands=[fact("D1", "rating", 20, 4), fact("D1", "rating", 25, 2)],
    )
    c = collect([A], 1, facts)[A]
    assert c.inputs.ratings == {"satisfaction": [4.0, 2.0]}
    assert c.records["satisfaction"] == [
        {"source": "demand.revisited", "demand_code": "D1", "rating": 4},
        {"source": "demand.revisited", "demand_code": "D1", "rating": 2},
    ]


def test_visits_count_for_their_unit_with_their_month():
    facts = ScoringFacts(
        visits=[
            VisitTally(A, "v1", "2026-10"),
            VisitTally(A, "v2", "2026-11"),
            VisitTally(B, "v3", "2026-11"),
        ]
    )
    out = collect([A, B], 2, facts)
    assert out[A].inputs.counts == {"visits": 2}
    assert out[A].records["visits"][0] == {
        "source": "visit.logged",
        "event_id": "v1",
        "month": "2026-10",
    }
    assert out[B].inputs.counts == {"visits": 1}


def test_manual_records_ratings_average_the_latest_override_wins_counts_add_up():
    def rec(kind: str, value: float, n: int) -> ManualRecord:
        return ManualRecord(f"r{n}", A, kind, value, "minutes", "2026-11")

    facts = ScoringFacts(
        records=[
            rec("integrity_rating", 4, 1),
            rec("integrity_rating", 5, 2),
            rec("efficiency_override", 9, 3),
            rec("efficiency_override", 12, 4),
            rec("paper", 2, 5),
            rec("paper", 1, 6),
        ]
    )
    c = collect([A], 1, facts)[A]
    assert c.inputs.ratings == {"integrity_rating": [4, 5]}
    assert c.inputs.overrides == {"efficiency_override": 12}
    assert c.inputs.counts == {"paper": 3}
    assert c.records["paper"][0] == {
        "source": "record",
        "id": "r5",
        "value": 2,
        "evidence": "minutes",
        "period": "2026-11",
    }


ITEMS = {i["item"]: i for p in DEFAULT_RULE_SET["parts"] for i in p["items"]}


def test_records_for_name_the_input_each_record_fed():
    records = {
        "visits": [{"event_id": "v1"}],
        "closed": [{"demand_code": "D1"}],
        "efficiency_override": [{"id": "r1"}],
        "paper": [{"id": "r2"}],
        "closed_on_time": [{"never": "shown"}],
    }
    assert records_for(ITEMS["visits"], records) == [{"event_id": "v1", "input": "visits"}]
    assert records_for(ITEMS["efficiency"], records) == [
        {"demand_code": "D1", "input": "closed"},
        {"id": "r1", "input": "efficiency_override"},
    ]
    assert records_for(ITEMS["research"], records) == [{"id": "r2", "input": "paper"}]
    assert records_for(ITEMS["integrity"], records) == []


UNIT = {"id": A, "type": "department", "name": "甲部室", "jurisdiction": "630102", "x": 1}


def test_a_card_carries_the_unit_the_period_the_rule_set_and_each_items_records_total():
    collected = Collected(Inputs(counts={"visits": 16}, months=1), {"visits": [{"event_id": "v"}]})
    assert collected.totals == {"visits": 1}
    rule_set = ("default", 0, DEFAULT_RULE_SET)
    c = card(UNIT, "2026-11", rule_set, collected.inputs, collected.totals)
    assert c["unit"] == {"id": A, "type": "department", "name": "甲部室", "jurisdiction": "630102"}
    assert c["period"] == "2026-11"
    assert c["rule_set"] == {
        "jurisdiction": "default",
        "version": 0,
        "name": DEFAULT_RULE_SET["name"],
    }
    visits = next(i for p in c["parts"] for i in p["items"] if i["item"] == "visits")
    assert visits["points"] == 15 and visits["records_total"] == 1 and "records" not in visits
    assert item_inputs(ITEMS["efficiency"]) == ["closed", "efficiency_override"]
    assert c["total"] == 15
    assert list(c) == ["unit", "period", "rule_set", "parts", "total"]


def test_ranked_on_no_cards_is_empty():
    assert ranked([]) == []


def test_ranked_cards_share_ranks_on_ties_and_sort_by_rank_then_id():
    cards = [{"unit": {"id": u}, "total": t} for u, t in (("c", 5), ("b", 9), ("a", 9))]
    out = ranked(cards)
    assert [(c["unit"]["id"], c["rank"], c["ranked_among"]) for c in out] == [
        ("a", 1, 3),
        ("b", 1, 3),
        ("c", 3, 3),
    ]
