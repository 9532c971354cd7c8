"""The closed loop's use cases on a fake unit of work, and their pure cores: what a step
changes, what a revisit changes, whether a recomputed deadline moved."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select, update

from services.intake.calendar import Deadline
from services.intake.lifecycle import Transition
from services.intake.loop import (
    change_status,
    deadline_moved,
    on_assignment_made,
    on_progress_reported,
    rate,
    recompute_provisional,
    revisit_values,
    screen,
    step_values,
)
from services.intake.models import demand_updates, demands
from shared.errors import status_of
from shared.events import Event
from shared.usecases import Conflict, NotFound
from tests.fakes import actor

NOW = datetime(2026, 12, 1, 2, tzinfo=UTC)
DUE = datetime(2026, 12, 2, 10, tzinfo=UTC)


# -- pure cores -----------------------------------------------------------------------
def test_closing_records_the_resolution_and_whether_it_was_on_time():
    closing = Transition("feedback", "closed", "done", "solved")
    values, on_time = step_values(closing, DUE, NOW)
    assert values == {"status": "closed", "closed_at": NOW, "resolution": "solved"}
    assert on_time is True
    assert step_values(closing, DUE, DUE + timedelta(seconds=1))[1] is False
    assert step_values(closing, None, NOW)[1] is True  # no promise, never late


def test_reopening_clears_the_closing_and_other_steps_change_the_status_only():
    reopened = Transition("closed", "follow_up", "not solved")
    assert step_values(reopened, DUE, NOW) == (
        {"status": "follow_up", "closed_at": None, "resolution": None},
        None,
    )
    started = Transition("accepted", "in_progress", "")
    assert step_values(started, DUE, NOW) == ({"status": "in_progress"}, None)


def test_a_revisit_keeps_the_rating_and_a_reopening_its_status():
    assert revisit_values(5, "好", None) == {"satisfaction_rating": 5, "satisfaction_comment": "好"}
    reopen = Transition("closed", "follow_up", "revisit rated 2: follow-up reopened")
    assert revisit_values(2, "差", reopen) == {
        "satisfaction_rating": 2,
        "satisfaction_comment": "差",
        "status": "follow_up",
        "closed_at": None,
        "resolution": None,
    }


def test_a_deadline_moves_when_its_time_or_its_flag_changes():
    same = Deadline(DUE, 5, False)
    assert not deadline_moved(same, DUE, False)
    assert deadline_moved(same, DUE, True)
    assert deadline_moved(Deadline(DUE + timedelta(days=1), 5, False), DUE, False)


# -- use cases --------------------------------------------------------------------------
def step(uow, code, to, note="", **more):
    return change_status(uow, actor("district"), code, {"to": to, "note": note, **more})


def test_a_step_is_recorded_emitted_and_answered(uow, accept):
    code = accept()["code"]
    out = step(uow, code, "in_progress", "开始办理")
    assert out["status"] == "in_progress"
    changed = uow.committed[-1]
    assert changed.event_type == "demand.status_changed"
    assert (changed.payload["from_status"], changed.payload["to_status"]) == (
        "accepted",
        "in_progress",
    )
    assert changed.payload["actor"] == "k-district" and changed.correlation_id == "c"
    with uow.read() as s:
        kinds = s.execute(select(demand_updates.c.to_status).order_by(demand_updates.c.id))
        assert kinds.scalars().all() == ["accepted", "in_progress"]


def test_an_illegal_step_is_a_conflict_naming_the_allowed_ones(uow, accept):
    code = accept()["code"]
    with pytest.raises(Conflict) as refused:
        step(uow, code, "closed", resolution="solved")
    assert status_of(refused.value) == 409 and refused.value.code == "illegal_transition"
    assert refused.value.fields == {"json": {"to": ["allowed: in_progress, rejected"]}}
    with pytest.raises(NotFound):
        change_status(uow, actor("district", "630103"), code, {"to": "rejected", "note": "x"})


def test_closing_on_time_then_a_low_rating_reopens_follow_up(uow, accept):
    code = accept()["code"]
    for to in ("in_progress", "feedback"):
        step(uow, code, to)
    closed = step(uow, code, "closed", "办结", resolution="solved")
    assert closed["closed_at"] and closed["resolution"] == "solved"
    assert uow.committed[-1].payload["on_time"] is True
    out = rate(uow, actor("district"), code, {"rating": 2, "comment": "不满意"})
    assert out["status"] == "follow_up" and out["closed_at"] is None
    assert out["satisfaction"] == {"rating": 2, "comment": "不满意"}
    assert uow.types()[-2:] == ["demand.revisited", "demand.status_changed"]
    assert uow.committed[-2].payload["reopened"] is True
    with pytest.raises(Conflict) as again:  # reopened: not closed, nothing to revisit
        rate(uow, actor("district"), code, {"rating": 5, "comment": ""})
    assert again.value.code == "revisit_refused"


def test_every_closure_gets_its_own_revisit_and_only_one(uow, accept):
    """Closed, rated 2 (reopened), closed again: the second closure is revisited in turn;
    a second revisit of the same closure is refused; so is one after a reopening by staff
    until the demand is closed again."""
    code = accept()["code"]
    for to in ("in_progress", "feedback"):
        step(uow, code, to)
    step(uow, code, "closed", "办结", resolution="solved")
    assert rate(uow, actor("district"), code, {"rating": 2, "comment": "不满意"})["status"] == (
        "follow_up"
    )
    step(uow, code, "closed", "再次办结", resolution="solved")
    second = rate(uow, actor("district"), code, {"rating": 5, "comment": "满意"})
    assert second["status"] == "closed" and second["satisfaction"]["rating"] == 5
    with pytest.raises(Conflict) as again:
        rate(uow, actor("district"), code, {"rating": 4, "comment": ""})
    assert again.value.code == "revisit_refused" and "already been revisited" in str(again.value)
    step(uow, code, "follow_up", "仍需跟踪")  # reopened by staff, then closed a third time
    step(uow, code, "closed", "第三次办结", resolution="solved")
    assert rate(uow, actor("district"), code, {"rating": 4, "comment": ""})["status"] == "closed"
    revisits = [e for e in uow.committed if e.event_type == "demand.revisited"]
    assert [e.payload["rating"] for e in revisits] == [2, 5, 4]


def test_screening_moves_the_deadline_and_ends_with_the_loop(uow, accept):
    d = accept()
    out = screen(uow, actor("district"), d["code"], {"complexity": "complex", "note": "复杂"})
    assert out["complexity"] == "complex" and out["expected_at"] > d["expected_at"]
    screened = uow.committed[-1]
    assert screened.event_type == "demand.screened" and screened.payload["urgency"] is None
    step(uow, d["code"], "rejected", "不属于科技服务")
    with pytest.raises(Conflict) as refused:
        screen(uow, actor("district"), d["code"], {"urgency": "high"})
    assert refused.value.message == "A rejected demand is not screened any more."
    assert refused.value.code == "illegal_transition"


def test_provisional_deadlines_are_recomputed_once(uow, accept):
    code = accept()["code"]
    with uow:  # as if computed on older calendar data
        uow.session.execute(
            update(demands)
            .where(demands.c.code == code)
            .values(deadline_provisional=True, expected_at=datetime(2027, 3, 1, 10, tzinfo=UTC))
        )
        uow.commit()
    assert recompute_provisional(uow) == 1
    assert uow.committed[-1].payload["actor"] == "system"
    with uow.read() as s:
        assert s.execute(select(demands.c.deadline_provisional)).scalar_one() is False
    assert recompute_provisional(uow) == 0


def progress(code, stage, note=""):
    payload = {
        "demand_code": code,
        "stage": stage,
        "note": note,
        "assignee_type": "agency",
        "assignee_name": "青海知识产权事务所",
        "at": "2026-12-01T02:00:00+00:00",
    }
    return Event("progress.reported", 1, "dispatch", "630102", payload, "c")


def test_reported_progress_moves_the_loop_or_is_kept_as_a_note(uow, accept):
    code = accept()["code"]
    with uow:
        on_progress_reported(progress(code, "feedback"), uow)  # not from accepted
        on_progress_reported(progress(code, "started"), uow)
        uow.commit()
    with uow.read() as s:
        feed = s.execute(select(demand_updates).order_by(demand_updates.c.id)).all()
    assert [(u.kind, u.to_status) for u in feed] == [
        ("transition", "accepted"),
        ("progress", None),
        ("transition", "in_progress"),
    ]
    assert feed[2].actor == "agency:青海知识产权事务所"
    assert feed[2].note == "青海知识产权事务所 reported started"
    with uow, pytest.raises(LookupError):
        on_progress_reported(progress("630102-2026-999999", "started"), uow)


def test_the_owner_dispatch_assigns_is_recorded_and_other_assignments_ignored(uow, accept):
    code = accept()["code"]
    made = {
        "demand_code": code,
        "assignee_type": "department",
        "assignee_id": "cd-kjj",
        "assignee_name": "城东区科学技术局",
    }
    with uow:
        owner = made | {"kind": "owner"}
        on_assignment_made(Event("assignment.made", 1, "dispatch", "630102", owner, "c"), uow)
        agency = made | {"kind": "agency", "assignee_type": "agency", "assignee_id": "a-1"}
        on_assignment_made(Event("assignment.made", 1, "dispatch", "630102", agency, "c"), uow)
        uow.commit()
    with uow.read() as s:
        row = s.execute(select(demands.c.owner_type, demands.c.owner_id)).one()
    assert tuple(row) == ("department", "cd-kjj")


# -- the first response (首次响应) and escalation ------------------------------------------
def _response(uow, code):
    with uow.read() as s:
        return s.execute(
            select(demands.c.respond_by, demands.c.responded_at).where(demands.c.code == code)
        ).one()


def test_a_demand_promises_a_first_response_in_office_hours_from_receipt(uow, accept):
    from services.intake.calendar import DEFAULT_RESPONSE_HOURS, WorkingCalendar

    received = (datetime.now(UTC) - timedelta(days=3)).replace(microsecond=0)
    out = accept(received_at=received.isoformat())
    due = WorkingCalendar().after_working_hours(received, DEFAULT_RESPONSE_HOURS).due
    assert out["respond_by"] == due.astimezone(UTC)  # from receipt (the hours: test_calendar)
    assert out["responded_at"] is None and out["escalated_at"] is None
    assert _response(uow, out["code"]).respond_by == due.astimezone(UTC)


def test_the_owners_first_screening_move_or_report_is_the_response_an_agencys_is_not(uow, accept):
    screened, moved, reported = (accept()["code"] for _ in range(3))
    screen(uow, actor("staff"), screened, {"complexity": "general"})
    first = _response(uow, screened).responded_at
    assert first is not None
    screen(uow, actor("staff"), screened, {"complexity": "complex"})
    assert _response(uow, screened).responded_at == first  # the first one stays
    change_status(uow, actor("staff"), moved, {"to": "in_progress", "note": "on it"})
    assert _response(uow, moved).responded_at is not None
    with uow:
        on_progress_reported(progress(reported, "started"), uow)  # the agency: not it
        uow.commit()
    assert _response(uow, reported).responded_at is None
    owner = progress(reported, "feedback")
    owner.payload["assignee_type"] = "department"
    with uow:
        on_progress_reported(owner, uow)
        uow.commit()
    assert _response(uow, reported).responded_at == datetime(2026, 12, 1, 2, tzinfo=UTC)


def deadline(code, level, at="2026-12-01T06:00:00+00:00", leader="王科长"):
    payload = {
        "assignment_id": "a-1",
        "demand_code": code,
        "kind": "owner",
        "assignee_id": "cd-kjj",
        "level": level,
        "due_at": "2026-12-01T04:00:00+00:00",
        "escalate_to": {"staff_id": "s-lead", "name": leader, "title": "科长"} if leader else None,
        "at": at,
    }
    return Event("assignment.deadline", 1, "dispatch", "630102", payload, "c")


def test_an_escalation_shows_on_the_demand_from_the_first_and_each_is_in_the_feed(uow, accept):
    from services.intake.loop import on_deadline

    code = accept()["code"]
    with uow:
        on_deadline(deadline(code, "warning"), uow)  # a warning is no escalation
        uow.commit()
    with uow.read() as s:
        assert (
            s.execute(select(demands.c.escalated_at).where(demands.c.code == code)).scalar() is None
        )
    with uow:
        on_deadline(deadline(code, "unanswered"), uow)
        on_deadline(deadline(code, "overdue", at="2026-12-02T06:00:00+00:00", leader=None), uow)
        uow.commit()
    with uow.read() as s:
        row = s.execute(select(demands).where(demands.c.code == code)).one()
        feed = s.execute(
            select(demand_updates.c.kind, demand_updates.c.note)
            .where(demand_updates.c.kind == "escalation")
            .order_by(demand_updates.c.id)
        ).all()
    assert row.escalated_at == datetime(2026, 12, 1, 6, tzinfo=UTC)  # the first
    assert row.escalated_to == "王科长"
    assert [n for _, n in feed] == ["未及时响应督办 unanswered → 王科长", "超期督办 overdue"]
