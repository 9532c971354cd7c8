"""A month's tallies as a use case over a fake unit of work: visits per staff member and
department, and the facts of the demands each unit owns, each with its records."""

from __future__ import annotations

from services.scoring import handlers as h
from services.scoring.tallies import tallies
from shared.events import make_event
from tests.fakes import actor

J = "630102"


def apply(uow, handler, event_type, producer, payload, jurisdiction=J) -> str:
    event = make_event(event_type, 1, producer=producer, jurisdiction=jurisdiction, payload=payload)
    with uow:
        handler(event, uow)
        uow.commit()
    return event.event_id


def owner(uow, code, category, unit="cd-kjj", jurisdiction=J) -> str:
    return apply(
        uow,
        h.on_assignment_made,
        "assignment.made",
        "dispatch",
        {
            "assignment_id": f"o-{code}",
            "demand_code": code,
            "kind": "owner",
            "assignee_type": "department",
            "assignee_id": unit,
            "assignee_name": "城东区科学技术局",
            "enterprise_credit_code": "91630102MA00000001",
            "category": category,
            "reason": "default",
            "assigned_at": "2026-11-02T02:00:00+00:00",
        },
        jurisdiction,
    )


def visit(uow, on="2026-11-12") -> str:
    return apply(
        uow,
        h.on_visit_logged,
        "visit.logged",
        "visits",
        {
            "visit_id": f"v-{on}",
            "version": 1,
            "staff_id": "s-1",
            "staff_name": "陈静",
            "department_id": None,
            "department_name": None,
            "team_id": None,
            "enterprises": [],
            "visited_on": on,
            "kind": "policy_briefing",
            "participants": [],
            "findings": "",
            "outcomes": "",
            "demands_raised": [],
            "follow_up_of": [],
            "logged_by": "k",
            "at": f"{on}T02:00:00+00:00",
        },
    )


def test_a_months_tallies_per_unit_item_and_stage(uow):
    tech = owner(uow, "D1", "technology")
    general = owner(uow, "D2", "ip")
    seen = visit(uow)
    visit(uow, on="2026-10-30")  # October
    owner(uow, "D3", "technology", unit="cz-kjj", jurisdiction="630103")  # a sibling's
    out = tallies(uow, actor("district", J), {"period": "2026-11"})
    assert [(t["unit_id"], t["item"], t["stage"], t["count"]) for t in out] == [
        ("cd-kjj", "general_demands", "collected", 1),
        ("cd-kjj", "technology_demands", "collected", 1),
        ("s-1", "visits", "logged", 1),
    ]
    assert out[0]["records"] == [{"event_id": general, "demand_code": "D2"}]
    assert out[1]["records"] == [{"event_id": tech, "demand_code": "D1"}]
    assert out[2]["records"] == [{"event_id": seen, "demand_code": None}]
    assert out[2]["unit_name"] == "陈静" and out[2]["period"] == "2026-11"
    assert uow.committed == []


def test_tallies_of_one_unit_and_of_the_city(uow):
    owner(uow, "D1", "technology")
    visit(uow)
    owner(uow, "D3", "technology", unit="cz-kjj", jurisdiction="630103")
    mine = tallies(uow, actor("district", J), {"period": "2026-11", "unit_id": "s-1"})
    assert [t["unit_id"] for t in mine] == ["s-1"]
    city = tallies(uow, actor("admin", "630100"), {"period": "2026-11"})
    assert {t["unit_id"] for t in city} == {"cd-kjj", "cz-kjj", "s-1"}
    assert tallies(uow, actor("district", J), {"period": "2026-12"}) == []


def test_a_days_tallies(uow):
    """The owner assignments were made on 2 November (China time); the visit was on the
    12th."""
    owner(uow, "D1", "technology")
    seen = visit(uow)
    second = tallies(uow, actor("district", J), {"period": "2026-11-02"})
    assert [(t["unit_id"], t["stage"], t["period"]) for t in second] == [
        ("cd-kjj", "collected", "2026-11-02")
    ]
    [twelfth] = tallies(uow, actor("district", J), {"period": "2026-11-12"})
    assert twelfth["records"] == [{"event_id": seen, "demand_code": None}]
    assert tallies(uow, actor("district", J), {"period": "2026-11-13"}) == []
    week = tallies(uow, actor("district", J), {"period": "2026-W46"})  # 9–15 November
    assert [t["stage"] for t in week] == ["logged"]


PARK, SIBLING = "630102-P0001", "630102-P0002"


def test_a_parks_tallies_are_its_own_its_county_sees_them_a_sibling_park_does_not(uow):
    in_park, in_sibling = f"{PARK}-2026-000001", f"{SIBLING}-2026-000001"
    owner(uow, in_park, "technology", unit="dc-office", jurisdiction=PARK)
    owner(uow, in_sibling, "technology", unit="xy-office", jurisdiction=SIBLING)
    owner(uow, "630102-2026-000001", "technology")

    def seen(where):
        out = tallies(uow, actor("district", where), {"period": "2026-11"})
        return {(t["unit_id"], r["demand_code"]) for t in out for r in t["records"]}

    assert seen(PARK) == {("dc-office", in_park)}
    assert seen(SIBLING) == {("xy-office", in_sibling)}
    assert seen(J) == seen(PARK) | seen(SIBLING) | {("cd-kjj", "630102-2026-000001")}
    assert seen(f"{PARK}-W0001") == set()
