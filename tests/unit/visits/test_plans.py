"""Visit plans on a fake unit of work: planned, then done by a visit, missed or
cancelled — each step stored and announced once."""

from datetime import date, timedelta

import pytest
from sqlalchemy import select, update

from services.visits.models import plans
from services.visits.plans import create_plan, get_plan, list_plans, miss_overdue_plans, move_plan
from shared.timezone import china_today
from shared.usecases import Conflict, Invalid, NotFound
from tests.factories import VisitsWorld
from tests.fakes import actor

ADMIN = actor("admin", "630000", key_id="k")
HAIDONG = actor("district", "630200")
E1, E2, E3 = VisitsWorld.E1, VisitsWorld.E2, VisitsWorld.E3


def plan(uow, **more):
    command = {"staff_id": "s-1", "enterprises": [E1], "planned_on": china_today()}
    return create_plan(uow, ADMIN, {**command, "kind": "follow_up", **more}, correlation_id="c")


def field_of(caught):
    [(field, [message])] = caught.value.fields["json"].items()
    return field, message


def test_a_plan_is_stored_and_announced(uow):
    p = plan(uow, note="带上政策清单")
    assert (p["status"], p["jurisdiction"], p["department_id"]) == ("planned", "630102", "cd-kjj")
    assert (p["enterprises"], p["note"], p["created_by"]) == ([E1], "带上政策清单", "k")
    assert get_plan(uow, ADMIN, p["id"]) == p
    [event] = uow.committed
    assert (event.event_type, event.jurisdiction, event.correlation_id) == (
        "visit_plan.status_changed",
        "630102",
        "c",
    )
    assert {k: event.payload[k] for k in ("plan_id", "from_status", "to_status", "actor")} == {
        "plan_id": p["id"],
        "from_status": None,
        "to_status": "planned",
        "actor": "k",
    }


def test_a_plan_is_for_today_or_later_and_for_known_parties(uow):
    with pytest.raises(Invalid) as caught:
        plan(uow, planned_on=china_today() - timedelta(days=1))
    assert field_of(caught) == ("planned_on", "a plan is for today or later")
    with pytest.raises(Invalid) as caught:
        plan(uow, staff_id="nobody")
    assert field_of(caught) == ("staff_id", "unknown staff member nobody")
    assert uow.committed == []


def test_a_plan_is_done_by_a_visit_of_the_planned_unit_to_a_planned_enterprise(uow, visit):
    p = plan(uow, enterprises=[E1, E2])
    today = china_today()
    by_other = visit(today, [E1], staff_id="s-3")
    elsewhere = visit(today, [E3], staff_id="s-2")
    too_early = visit(today - timedelta(days=8), [E1], staff_id="s-1")
    refusals = {
        "no-such-visit": "no such visit in your subtree",
        by_other["visit_id"]: "the visit was made by another unit",
        elsewhere["visit_id"]: "the visit was made by another unit",
        too_early["visit_id"]: "the visit took place before the plan",
    }
    for visit_id, message in refusals.items():
        with pytest.raises(Invalid) as caught:
            move_plan(uow, ADMIN, p["id"], "done", {"visit_id": visit_id})
        assert field_of(caught) == ("visit_id", message)
    done_by = visit(today - timedelta(days=7), [E2], staff_id="s-1")
    done = move_plan(uow, ADMIN, p["id"], "done", {"visit_id": done_by["visit_id"]})
    assert (done["status"], done["visit_id"]) == ("done", done_by["visit_id"])
    step = uow.committed[-1].payload
    assert (step["from_status"], step["to_status"], step["visit_id"]) == (
        "planned",
        "done",
        done_by["visit_id"],
    )
    with pytest.raises(Conflict, match="the plan is done: only a planned visit can be cancelled"):
        move_plan(uow, ADMIN, p["id"], "cancel", {"reason": "r"})


def test_a_visit_to_other_enterprises_does_not_do_the_plan(uow, visit):
    p = plan(uow)
    other = visit(china_today(), [E2], staff_id="s-1")
    with pytest.raises(Invalid) as caught:
        move_plan(uow, ADMIN, p["id"], "done", {"visit_id": other["visit_id"]})
    assert field_of(caught) == ("visit_id", "the visit did not go to the planned enterprises")


def test_a_plan_is_missed_or_cancelled_with_its_reason(uow):
    missed = move_plan(uow, ADMIN, plan(uow)["id"], "missed", {"reason": "企业停产"})
    cancelled = move_plan(uow, ADMIN, plan(uow)["id"], "cancel", {"reason": "改期"})
    assert (missed["status"], missed["reason"]) == ("missed", "企业停产")
    assert (cancelled["status"], cancelled["reason"]) == ("cancelled", "改期")
    with pytest.raises(NotFound, match="No plan"):
        move_plan(uow, HAIDONG, missed["id"], "cancel", {"reason": "r"})
    with pytest.raises(NotFound):
        get_plan(uow, HAIDONG, missed["id"])


def test_plans_are_listed_in_the_subtree_by_day(uow):
    today = china_today()
    later = plan(uow, planned_on=today + timedelta(days=3))
    first = plan(uow)
    theirs = plan(uow, staff_id="s-2", enterprises=[E3])
    assert [p["id"] for p in list_plans(uow, ADMIN, {"limit": 10})][:2] in (
        [first["id"], theirs["id"]],
        [theirs["id"], first["id"]],
    )
    assert [p["id"] for p in list_plans(uow, HAIDONG, {"limit": 10})] == [theirs["id"]]
    assert [p["id"] for p in list_plans(uow, ADMIN, {"limit": 10, "staff_id": "s-1"})] == [
        first["id"],
        later["id"],
    ]
    with pytest.raises(Invalid) as caught:
        list_plans(uow, ADMIN, {"limit": 10, "period": "2026-13"})
    assert list(caught.value.fields["query"]) == ["period"]


def test_plans_left_planned_after_their_day_are_missed_once(uow):
    overdue, kept = plan(uow), plan(uow)
    with uow:
        uow.session.execute(
            update(plans).where(plans.c.id == overdue["id"]).values(planned_on=date(2026, 1, 5))
        )
        uow.commit()
    assert miss_overdue_plans(uow, china_today()) == 1
    assert miss_overdue_plans(uow, china_today()) == 0
    with uow.read() as s:
        status = dict(s.execute(select(plans.c.id, plans.c.status)).all())
    assert status == {overdue["id"]: "missed", kept["id"]: "planned"}
    step = uow.committed[-1]
    assert (step.payload["to_status"], step.payload["reason"], step.payload["actor"]) == (
        "missed",
        "not done by the planned day",
        "visits",
    )
    assert step.correlation_id != "c"  # the sweep starts its own
