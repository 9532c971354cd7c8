"""A scorecard's inputs collected from scoring's own (SQLite) tables, fed through the real
consumers (the inbox included); scorecards and ranks with ties; the scorecard, ranking and
what-if use cases."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from unittest.mock import ANY

import pytest
from sqlalchemy import select

from services.scoring import handlers as h
from services.scoring.domain.facts import parse_period
from services.scoring.domain.scorecard import ranked
from services.scoring.domain.table import DEFAULT_RULE_SET, default_rule_set
from services.scoring.models import demand_facts, manual_records, units
from services.scoring.rulesets import publish_rule_set
from services.scoring.scorecards import (
    cards_for,
    collect,
    item_records,
    rankings,
    scorecard,
    what_if,
)
from shared.events import make_event
from shared.timezone import china_today
from shared.usecases import Forbidden, Invalid, NotFound
from tests.factories import accepted_payload
from tests.fakes import actor

# --- collect ---------------------------------------------------------------------------------

J = "630102"
DEPT = ("cd-kjj", "城东区科学技术局")
STAFF = ("s-1", "陈静")
ENT = accepted_payload()["enterprise"]["credit_code"]
NOV = parse_period("2026-11")


def at(day: int, hour: int = 2, month: int = 11) -> str:
    return datetime(2026, month, day, hour, tzinfo=UTC).isoformat()


def deliver(svc, handler, event) -> bool:
    return svc.inbox.apply(svc.uow, f"scoring.{handler.__name__}", event, handler)


def ev(event_type, producer, payload):
    return make_event(event_type, 1, producer=producer, jurisdiction=J, payload=payload)


def owner(code, *, unit=DEPT, unit_type="department", category="technology", when=None):
    return ev(
        "assignment.made",
        "dispatch",
        {
            "assignment_id": f"o-{code}-{uuid.uuid4()}",
            "demand_code": code,
            "kind": "owner",
            "assignee_type": unit_type,
            "assignee_id": unit[0],
            "assignee_name": unit[1],
            "enterprise_credit_code": ENT,
            "category": category,
            "reason": "default",
            "assigned_at": when or at(2),
        },
    )


def agency(code, *, category="technology", when=None):
    return ev(
        "assignment.made",
        "dispatch",
        {
            "assignment_id": f"a-{code}-{uuid.uuid4()}",
            "demand_code": code,
            "kind": "agency",
            "assignee_type": "agency",
            "assignee_id": "pat-a",
            "assignee_name": "知桥专利",
            "enterprise_credit_code": ENT,
            "category": category,
            "reason": "rotation",
            "assigned_at": when or at(5),
        },
    )


def accepted(code, *, category="technology", when=None):
    return ev(
        "demand.accepted",
        "intake",
        accepted_payload(demand_code=code, category=category, accepted_at=when or at(1)),
    )


def screened(code, *, when=None):
    return ev(
        "demand.screened",
        "intake",
        {
            "demand_code": code,
            "complexity": "general",
            "urgency": None,
            "feasibility": None,
            "expected_at": at(28),
            "deadline_provisional": False,
            "actor": "k",
            "at": when or at(3),
        },
    )


def status(code, frm, to, *, category="technology", when=None, resolution=None, on_time=None):
    return ev(
        "demand.status_changed",
        "intake",
        {
            "demand_code": code,
            "from_status": frm,
            "to_status": to,
            "note": "n",
            "resolution": resolution,
            "actor": "k",
            "at": when or at(4),
            "category": category,
            "on_time": on_time,
        },
    )


def revisited(code, rating, *, when=None):
    return ev(
        "demand.revisited",
        "intake",
        {
            "demand_code": code,
            "rating": rating,
            "comment": "",
            "reopened": False,
            "actor": "k",
            "at": when or at(20),
        },
    )


def visit(*, staff=STAFF, dept=DEPT, on="2026-11-12"):
    return ev(
        "visit.logged",
        "visits",
        {
            "visit_id": str(uuid.uuid4()),
            "version": 1,
            "staff_id": staff and staff[0],
            "staff_name": staff and staff[1],
            "department_id": dept and dept[0],
            "department_name": dept and dept[1],
            "team_id": None,
            "enterprises": [{"credit_code": ENT, "name": "e", "jurisdiction": J}],
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


def cohandled(
    code, *, unit=DEPT, kind="department", outcome="done", category="technology", when=None
):
    """A co-handler's feedback on its task (dispatch's ``cohandling.reported``)."""
    return ev(
        "cohandling.reported",
        "dispatch",
        {
            "cotask_id": str(uuid.uuid4()),
            "demand_code": code,
            "category": category,
            "lead_department_id": "lead",
            "kind": kind,
            "cohandler_id": unit[0],
            "cohandler_name": unit[1],
            "cohandler_jurisdiction": J,
            "task": "联合攻关",
            "due_on": "2026-12-31",
            "status": "reported",
            "outcome": outcome,
            "feedback": "完成",
            "actor": "k",
            "at": when or at(12),
        },
    )


HANDLER = {
    "cohandling.reported": h.on_cohandling_reported,
    "assignment.made": h.on_assignment_made,
    "demand.accepted": h.on_demand_accepted,
    "demand.screened": h.on_demand_screened,
    "demand.status_changed": h.on_demand_status_changed,
    "demand.revisited": h.on_demand_revisited,
    "visit.logged": h.on_visit_logged,
    "department.updated": h.on_unit,
    "staff.updated": h.on_unit,
}


def feed(svc, *events) -> list[bool]:
    return [deliver(svc, HANDLER[e.event_type], e) for e in events]


def pipeline(code, *, on_time=True, category="technology", unit=DEPT):
    """Collected, analysed, published, matched, solved (closed on time)."""
    return [
        accepted(code, category=category),
        owner(code, category=category, unit=unit),
        screened(code),
        status(code, "accepted", "in_progress", category=category),
        agency(code, category=category),
        status(code, "in_progress", "feedback", category=category, when=at(10)),
        status(
            code,
            "feedback",
            "closed",
            category=category,
            when=at(15),
            resolution="solved",
            on_time=on_time,
        ),
    ]


def inputs_of(svc, unit_id=DEPT[0], period=NOV):
    with svc.db.session() as s:
        return collect(s, period, [unit_id])[unit_id]


TECH = ("tech_collected", "tech_analysed", "tech_published", "tech_matched", "tech_solved")


def test_a_technology_demand_through_every_stage(svc):
    assert all(feed(svc, *pipeline("D1")))
    c = inputs_of(svc)
    assert c.inputs.counts == {
        **dict.fromkeys(TECH, 1),
        "closed": 1,
        "closed_on_time": 1,
    }
    assert "general_solved" not in c.inputs.counts
    for name in TECH:
        [rec] = c.records[name]
        assert rec["demand_code"] == "D1"
    assert c.records["closed"] == [{"source": "closed", "demand_code": "D1", "on_time": True}]


def test_a_general_demand_earns_only_when_solved(svc):
    feed(svc, *pipeline("G1", category="ip"))
    c = inputs_of(svc)
    assert c.inputs.counts == {"general_solved": 1, "closed": 1, "closed_on_time": 1}


def test_a_demand_closed_unsolved_counts_for_efficiency_only(svc):
    feed(
        svc,
        owner("D1"),
        status("D1", "in_progress", "closed", resolution="unsolvable", on_time=False),
    )
    assert inputs_of(svc).inputs.counts == {"tech_collected": 1, "closed": 1}


def test_a_cohandling_departments_work_done_counts_as_a_demand_it_helped_solve(svc):
    """XN 联合处置: the lead (d-lead) owns and solves the demand; cd-kjj co-handled it."""
    feed(svc, *pipeline("D1", unit=("d-lead", "牵头部室")), cohandled("D1"))
    feed(svc, *pipeline("G1", category="ip", unit=("d-lead", "牵头部室")))
    feed(svc, cohandled("G1", category="ip", when=at(3, month=12)))  # next month's
    assert inputs_of(svc).inputs.counts == {"tech_solved": 1}
    assert inputs_of(svc).records["tech_solved"] == [
        {"source": "co_handled", "demand_code": "D1", "event_id": ANY}
    ]
    lead = inputs_of(svc, "d-lead").inputs.counts
    assert lead["tech_solved"] == 1 and lead["general_solved"] == 1  # the lead keeps its own


def test_an_experts_work_or_a_task_not_done_scores_no_unit(svc):
    feed(
        svc,
        cohandled("D1", outcome="unable"),
        cohandled("D2", kind="expert", unit=("exp-1", "专家")),
        cohandled("D3", kind="institute", unit=("", "研究所")),
    )
    assert inputs_of(svc).inputs.counts == {}
    assert inputs_of(svc, "exp-1").inputs.counts == {}


def test_another_units_demand_does_not_count(svc):
    feed(svc, *pipeline("D1"))
    assert inputs_of(svc, "other-dept").inputs.counts == {}


def test_the_same_event_delivered_twice_changes_nothing(svc):
    events = [*pipeline("D1"), revisited("D1", 4), visit()]
    assert all(feed(svc, *events))
    before = inputs_of(svc)
    assert not any(feed(svc, *events))  # the inbox recognises every redelivery
    after = inputs_of(svc)
    assert after.inputs == before.inputs
    assert after.inputs.counts["visits"] == 1
    assert after.inputs.ratings == {"satisfaction": [4.0]}
    with svc.db.session() as s:
        assert len(s.execute(select(demand_facts)).all()) == 8  # accepted, 5 stages, closed, rating


def test_a_reopened_and_reclosed_demand_counts_once_and_the_last_close_decides(svc):
    feed(
        svc,
        *pipeline("D1", on_time=False),
        status("D1", "closed", "in_progress", when=at(16)),  # reopened: not a new publish
        status("D1", "in_progress", "closed", when=at(18), resolution="solved", on_time=True),
    )
    c = inputs_of(svc)
    assert c.inputs.counts == {**dict.fromkeys(TECH, 1), "closed": 1, "closed_on_time": 1}
    assert c.records["closed"] == [{"source": "closed", "demand_code": "D1", "on_time": True}]


def test_a_late_reclose_undoes_the_earlier_on_time_close(svc):
    feed(
        svc,
        *pipeline("D1", on_time=True),
        status("D1", "closed", "in_progress", when=at(16)),
        status("D1", "in_progress", "closed", when=at(18), resolution="solved", on_time=False),
    )
    counts = inputs_of(svc).inputs.counts
    assert counts["closed"] == 1 and "closed_on_time" not in counts
    assert counts["tech_solved"] == 1


def test_the_last_close_decides_whatever_order_the_events_arrive_in(svc):
    late_first = status("D1", "feedback", "closed", when=at(15), resolution="solved", on_time=False)
    on_time_later = status(
        "D1", "in_progress", "closed", when=at(18), resolution="solved", on_time=True
    )
    feed(svc, owner("D1"), on_time_later, late_first)
    counts = inputs_of(svc).inputs.counts
    assert counts["closed"] == 1 and counts["closed_on_time"] == 1


def test_two_demands_make_the_efficiency_share(svc):
    feed(svc, *pipeline("D1", on_time=True), *pipeline("D2", on_time=False))
    counts = inputs_of(svc).inputs.counts
    assert (counts["closed"], counts["closed_on_time"]) == (2, 1)
    assert counts["tech_solved"] == 2


def test_revisit_ratings_go_into_satisfaction(svc):
    feed(svc, *pipeline("D1"), revisited("D1", 4), revisited("D1", 2, when=at(25)))
    c = inputs_of(svc)
    assert c.inputs.ratings == {"satisfaction": [4.0, 2.0]}
    assert c.inputs.average("satisfaction") == 3
    assert [rec["rating"] for rec in c.records["satisfaction"]] == [4, 2]


def test_events_before_the_owner_assignment_are_attributed_once_it_is_known(svc):
    code = "D1"
    early = [
        accepted(code),
        screened(code),
        status(code, "accepted", "in_progress"),
        agency(code),
        status(code, "in_progress", "closed", when=at(15), resolution="solved", on_time=True),
        revisited(code, 5),
    ]
    feed(svc, *early)
    assert inputs_of(svc).inputs.counts == {}
    feed(svc, owner(code, when=at(16)))
    c = inputs_of(svc)
    assert c.inputs.counts == {**dict.fromkeys(TECH, 1), "closed": 1, "closed_on_time": 1}
    assert c.inputs.ratings == {"satisfaction": [5.0]}


def test_facts_count_in_the_china_time_month_they_happened(svc):
    feed(
        svc,
        owner("D1", when=at(30, hour=16)),  # 2026-12-01 00:00 in China
        screened("D1", when=at(30, hour=15)),  # still November in China
        status("D1", "accepted", "in_progress", when=at(20, month=10)),
    )
    assert inputs_of(svc).inputs.counts == {"tech_analysed": 1}
    assert inputs_of(svc, period=parse_period("2026-12")).inputs.counts == {"tech_collected": 1}
    assert inputs_of(svc, period=parse_period("2026-Q4")).inputs.counts == {
        "tech_collected": 1,
        "tech_analysed": 1,
        "tech_published": 1,
    }


def test_visits_count_for_the_staff_member_and_the_department(svc):
    assert all(
        feed(
            svc,
            visit(),
            visit(on="2026-11-30"),
            visit(staff=None),  # a department's visit without a named staff member
            visit(dept=None),
            visit(on="2026-10-31"),  # October
        )
    )
    with svc.db.session() as s:
        out = collect(s, NOV, [STAFF[0], DEPT[0]])
    assert out[STAFF[0]].inputs.counts == {"visits": 3}
    assert out[DEPT[0]].inputs.counts == {"visits": 3}
    assert {r["month"] for r in out[STAFF[0]].records["visits"]} == {"2026-11"}
    with svc.db.session() as s:
        q4 = collect(s, parse_period("2026-Q4"), [STAFF[0], DEPT[0]])
    assert q4[STAFF[0]].inputs.counts == {"visits": 4}
    assert q4[DEPT[0]].inputs.counts == {"visits": 4}


def test_collect_with_no_units_is_empty(svc):
    with svc.db.session() as s:
        assert collect(s, NOV, []) == {}


def record(svc, kind, value, *, unit=DEPT[0], period="2026-11", day=1, retracted=False):
    with svc.uow() as uow:
        uow.session.execute(
            manual_records.insert().values(
                id=str(uuid.uuid4()),
                unit_type="department",
                unit_id=unit,
                jurisdiction=J,
                period=period,
                kind=kind,
                value=float(value),
                evidence="minutes of the review",
                note="",
                actor="k",
                at=datetime(2026, 12, day, 2, tzinfo=UTC),
                retracted_at=datetime(2026, 12, 28, tzinfo=UTC) if retracted else None,
                retracted_by="k" if retracted else None,
                retract_reason="entered twice" if retracted else None,
            )
        )
        uow.commit()


def test_manual_records_ratings_overrides_and_counts(svc):
    record(svc, "integrity_rating", 4, day=1)
    record(svc, "integrity_rating", 5, day=2)
    record(svc, "integrity_rating", 0, day=3, retracted=True)
    record(svc, "attitude_rating", 3, day=1)
    record(svc, "efficiency_override", 9, day=5)
    record(svc, "efficiency_override", 12, day=7)  # the latest wins
    record(svc, "efficiency_override", 1, day=9, retracted=True)  # retracted: ignored
    record(svc, "efficiency_override", 3, day=6)
    record(svc, "paper", 2, day=1)
    record(svc, "paper", 1, day=2)
    record(svc, "paper", 5, day=3, retracted=True)
    record(svc, "invention_patent", 1, day=4)
    record(svc, "assisted_application", 1, day=4)
    record(svc, "standard", 7, period="2026-10")  # another month
    record(svc, "project", 1, unit="other-dept")  # another unit
    c = inputs_of(svc)
    assert c.inputs.ratings == {"integrity_rating": [4.0, 5.0], "attitude_rating": [3.0]}
    assert c.inputs.average("integrity_rating") == 4.5
    assert c.inputs.overrides == {"efficiency_override": 12.0}
    assert c.inputs.counts == {"paper": 3, "invention_patent": 1, "assisted_application": 1}
    assert len(c.records["integrity_rating"]) == 2
    assert all(rec["evidence"] == "minutes of the review" for rec in c.records["paper"])
    q4 = inputs_of(svc, period=parse_period("2026-Q4"))
    assert q4.inputs.counts["standard"] == 7


# --- scorecards and ranks ----------------------------------------------------------------------

DEPTS = [("d-a", "甲部室"), ("d-b", "乙部室"), ("d-c", "丙部室"), ("d-d", "丁部室")]


def department(dept_id, name):
    return ev(
        "department.updated",
        "dispatch",
        {
            "id": dept_id,
            "jurisdiction": J,
            "name": name,
            "segments": [],
            "is_default": False,
            "leader_staff_id": None,
        },
    )


def test_cards_and_ranks_with_ties(svc):
    feed(svc, *(department(*d) for d in DEPTS))
    # d-a and d-b: the same solved technology demand each (20 + 15 efficiency); d-c: 16
    # visits in November, 192 a year at that rate (the full 15 points); d-d: nothing.
    for code, unit in (("A1", DEPTS[0]), ("B1", DEPTS[1])):
        feed(svc, *pipeline(code, unit=unit))
    feed(svc, *(visit(staff=None, dept=DEPTS[2]) for _ in range(16)))
    with svc.db.session() as s:
        rows = s.execute(select(units).where(units.c.type == "department")).all()
        cards = ranked(cards_for(s, NOV, rows, records_of="d-a"))
        d_c = {c["unit"]["id"]: c for c in cards_for(s, NOV, rows, records_of="d-c")}["d-c"]
    summary = [(c["unit"]["id"], c["total"], c["rank"]) for c in cards]
    assert summary == [("d-a", 35, 1), ("d-b", 35, 1), ("d-c", 15, 3), ("d-d", 0, 4)]
    assert all(c["ranked_among"] == 4 for c in cards)
    top = cards[0]
    assert top["period"] == "2026-11"
    assert top["unit"] == {"id": "d-a", "type": "department", "name": "甲部室", "jurisdiction": J}
    assert top["rule_set"]["version"] == 0 and top["rule_set"]["jurisdiction"] == "default"
    items = {i["item"]: i for p in top["parts"] for i in p["items"]}
    assert items["technology_demands"]["points"] == 20
    assert items["technology_demands"]["basis"]["uncapped"] == 36
    assert {r["input"] for r in items["technology_demands"]["records"]} == set(TECH)
    assert items["efficiency"]["points"] == 15
    assert [r["demand_code"] for r in items["efficiency"]["records"]] == ["A1"]
    assert items["technology_demands"]["records_total"] == 5
    # only the card asked for lists its records; every card counts them
    others = {i["item"]: i for p in cards[1]["parts"] for i in p["items"]}
    assert "records" not in others["technology_demands"]
    assert others["technology_demands"]["records_total"] == 5
    visits = {i["item"]: i for p in d_c["parts"] for i in p["items"]}["visits"]
    assert visits["points"] == 15 and len(visits["records"]) == 16
    assert visits["basis"] == {"visits": 16, "visits_per_12_months": 192}


def test_a_manual_override_shows_in_the_card_and_its_records(svc):
    feed(svc, department(*DEPTS[0]))
    feed(svc, *pipeline("A1", on_time=False, unit=DEPTS[0]))
    record(svc, "efficiency_override", 6, unit="d-a")
    with svc.db.session() as s:
        rows = s.execute(select(units)).all()
        [card] = ranked(cards_for(s, NOV, rows, records_of="d-a"))
    items = {i["item"]: i for p in card["parts"] for i in p["items"]}
    assert items["efficiency"]["points"] == 6
    assert items["efficiency"]["records_total"] == 2
    assert {r["input"] for r in items["efficiency"]["records"]} == {"closed", "efficiency_override"}
    assert card["rank"] == 1 and card["ranked_among"] == 1


# --- the use cases over a fake unit of work ------------------------------------------------


def consume(uow, *events) -> None:
    """The consumers applied as the inbox applies them: one transaction each."""
    for e in events:
        with uow:
            HANDLER[e.event_type](e, uow)
            uow.commit()


DISTRICT = actor("district", J)


def ranked_world(uow) -> None:
    consume(uow, *(department(*d) for d in DEPTS))
    consume(uow, *pipeline("A1", unit=DEPTS[0]), *pipeline("B1", unit=DEPTS[1]))
    consume(uow, *(visit(staff=None, dept=DEPTS[2]) for _ in range(16)))


def test_a_units_scorecard_is_ranked_among_its_peers(uow):
    ranked_world(uow)
    card = scorecard(uow, DISTRICT, {"unit": "d-c", "period": "2026-11"})
    assert (card["unit"]["id"], card["total"], card["rank"], card["ranked_among"]) == (
        "d-c",
        15,
        3,
        4,
    )
    assert uow.committed == []  # reading emits nothing


def test_a_scorecard_of_an_unseen_unit_is_not_found_and_a_bad_period_invalid(uow):
    ranked_world(uow)
    with pytest.raises(NotFound):
        scorecard(uow, actor("district", "630103"), {"unit": "d-a", "period": "2026-11"})
    for bad in ("2026-11-31", "2026-W54", "2026-11-1"):
        with pytest.raises(Invalid) as exc:
            scorecard(uow, DISTRICT, {"unit": "d-a", "period": bad})
        assert list(exc.value.fields["query"]) == ["period"]


def test_rankings_of_a_jurisdiction(uow):
    ranked_world(uow)
    out = rankings(
        uow, DISTRICT, {"jurisdiction": J, "unit_type": "department", "period": "2026-Q4"}
    )
    assert (out["jurisdiction"], out["unit_type"], out["period"]) == (J, "department", "2026-Q4")
    assert [(c["unit"]["id"], c["rank"]) for c in out["items"]] == [
        ("d-a", 1),
        ("d-b", 1),
        ("d-c", 3),
        ("d-d", 4),
    ]
    staff = rankings(uow, DISTRICT, {"jurisdiction": J, "unit_type": "staff", "period": "2026"})
    assert staff["items"] == []
    with pytest.raises(Forbidden):
        rankings(
            uow,
            DISTRICT,
            {"jurisdiction": "630100", "unit_type": "department", "period": "2026-11"},
        )


def test_what_if_evaluates_raw_figures_under_the_rule_set_in_force(uow):
    out = what_if(
        uow,
        DISTRICT,
        {"counts": {"visits": 30, "tech_solved": 1}, "ratings": {"satisfaction": [5, 3]}},
    )
    assert out["rule_set"] == {
        "jurisdiction": "default",
        "version": 0,
        "name": DEFAULT_RULE_SET["name"],
    }
    items = {i["item"]: i["points"] for p in out["parts"] for i in p["items"]}
    assert (items["visits"], items["technology_demands"], items["satisfaction"]) == (15, 20, 7.5)
    assert out["total"] == 42.5


def test_what_if_under_a_given_version(uow):
    body = default_rule_set()
    body["name"] = "v1"
    publish_rule_set(
        uow,
        actor("admin", J),
        J,
        {"effective_from": china_today(), "rule_set": body},
        correlation_id="c",
    )
    assert what_if(uow, DISTRICT, {"version": 1})["rule_set"]["name"] == "v1"
    assert what_if(uow, DISTRICT, {"version": 0})["rule_set"]["jurisdiction"] == "default"
    with pytest.raises(Invalid) as exc:
        what_if(uow, DISTRICT, {"version": 2})
    assert exc.value.fields == {"json": {"version": [f"{J} has no rule set version 2"]}}
    with pytest.raises(Forbidden):
        what_if(uow, DISTRICT, {"jurisdiction": "630103"})


# --- a day (日调度) ------------------------------------------------------------------------


def test_a_day_counts_what_happened_on_that_china_time_day(svc):
    """The pipeline closes D1 (solved, on time) on 15 November; two visits that day, one the
    next; a co-handling report at 01:00 China time on the 16th; a manual record entered for
    November counts in no day."""
    feed(svc, *pipeline("D1"))
    feed(svc, visit(on="2026-11-15"), visit(staff=None, on="2026-11-15"), visit(on="2026-11-16"))
    feed(svc, cohandled("D9", when=at(15, hour=17)))
    record(svc, "paper", 2)
    fifteenth, sixteenth = parse_period("2026-11-15"), parse_period("2026-11-16")
    c = inputs_of(svc, period=fifteenth)
    assert c.inputs.counts == {"tech_solved": 1, "closed": 1, "closed_on_time": 1, "visits": 2}
    assert c.inputs.months == pytest.approx(12 / 365)
    assert inputs_of(svc, period=sixteenth).inputs.counts == {"visits": 1, "tech_solved": 1}
    assert inputs_of(svc, STAFF[0], fifteenth).inputs.counts == {"visits": 1}
    assert inputs_of(svc, period=parse_period("2026-11-14")).inputs.counts == {}
    assert inputs_of(svc).inputs.counts["paper"] == 2  # the month has it
    week = inputs_of(svc, period=parse_period("2026-W46"))  # 周推进: 9–15 November
    assert week.inputs.counts == {"tech_solved": 1, "closed": 1, "closed_on_time": 1, "visits": 2}
    assert inputs_of(svc, period=parse_period("2026-W47")).inputs.counts == {
        "visits": 1,
        "tech_solved": 1,
    }


def test_a_days_card_judges_the_visits_on_their_rate_and_lists_the_days_records(uow):
    consume(uow, department(*DEPT), *pipeline("D1"))
    consume(uow, visit(staff=None, on="2026-11-15"))
    card = scorecard(uow, DISTRICT, {"unit": DEPT[0], "period": "2026-11-15"})
    assert card["period"] == "2026-11-15" and card["rank"] == 1
    items = {i["item"]: i for p in card["parts"] for i in p["items"]}
    assert items["visits"]["basis"] == {"visits": 1, "visits_per_12_months": 365}
    assert items["visits"]["points"] == 15
    assert [r["demand_code"] for r in items["efficiency"]["records"]] == ["D1"]
    assert items["technology_demands"]["records_total"] == 1  # solved that day
    page = item_records(
        uow,
        DISTRICT,
        {"unit": DEPT[0], "period": "2026-11-15", "item": "visits", "offset": 0, "limit": 5},
    )
    assert page["total"] == 1 and page["items"][0]["input"] == "visits"
    assert (
        item_records(
            uow,
            DISTRICT,
            {"unit": DEPT[0], "period": "2026-11-14", "item": "visits", "offset": 0, "limit": 5},
        )["items"]
        == []
    )
    day = rankings(
        uow, DISTRICT, {"jurisdiction": J, "unit_type": "department", "period": "2026-11-02"}
    )
    # the 2nd: D1 collected (its owner assigned), 1 point
    assert [(c["unit"]["id"], c["total"]) for c in day["items"]] == [(DEPT[0], 1)]
