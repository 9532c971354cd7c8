"""The life of an agency order and its reassignment (CX 第二十二、二十四条)."""

from __future__ import annotations

import pytest

from services.dispatch.alliance import AllianceRules
from services.dispatch.order_life import (
    ORDER_ACTIONS,
    IllegalAction,
    exits_after_reassignment,
    order_step,
    reassignment_problem,
)

SEED = AllianceRules()


# --- the life of an agency order (第二十二、二十四条) ----------------------------------

LEGAL = [
    ("acknowledge", "dispatched", "acknowledged"),
    ("start", "dispatched", "in_progress"),
    ("start", "acknowledged", "in_progress"),
    ("feedback", "acknowledged", "in_progress"),
    ("feedback", "in_progress", "in_progress"),
    ("complete", "acknowledged", "completed"),
    ("complete", "in_progress", "completed"),
    ("refuse", "dispatched", "refused"),
    ("refuse", "acknowledged", "refused"),
    ("comply", "refused", "acknowledged"),
    ("release", "refused", "withdrawn"),
    ("reassign", "dispatched", "reassigned"),
    ("reassign", "acknowledged", "reassigned"),
    ("reassign", "in_progress", "reassigned"),
    ("withdraw", "dispatched", "withdrawn"),
    ("withdraw", "acknowledged", "withdrawn"),
    ("withdraw", "in_progress", "withdrawn"),
    ("withdraw", "refused", "withdrawn"),
]
STATUSES = (
    "dispatched",
    "acknowledged",
    "in_progress",
    "refused",
    "completed",
    "withdrawn",
    "reassigned",
)


@pytest.mark.parametrize(("action", "status", "to"), LEGAL)
def test_legal_steps(action, status, to):
    assert order_step(action, status) == to


@pytest.mark.parametrize("action", sorted(ORDER_ACTIONS))
@pytest.mark.parametrize("status", STATUSES)
def test_every_other_step_is_illegal(action, status):
    if (action, status) in {(a, s) for a, s, _ in LEGAL}:
        return
    with pytest.raises(IllegalAction) as e:
        order_step(action, status)
    assert f"cannot {action}" in str(e.value)
    assert status in str(e.value)


@pytest.mark.parametrize("status", ["completed", "withdrawn", "reassigned"])
def test_finished_orders_allow_nothing(status):
    with pytest.raises(IllegalAction) as e:
        order_step("feedback", status)
    assert e.value.allowed == []
    assert "allowed: none" in str(e.value)


def test_an_illegal_step_lists_what_is_allowed():
    with pytest.raises(IllegalAction) as e:
        order_step("complete", "refused")
    assert e.value.allowed == ["comply", "release", "withdraw"]
    assert "allowed: comply, release, withdraw" in str(e.value)
    assert isinstance(e.value, ValueError)


def test_a_refusal_can_be_coordinated_back_into_service():
    status = "dispatched"
    for action in ("refuse", "comply", "start", "feedback", "complete"):
        status = order_step(action, status)
    assert status == "completed"


def test_reassignment_needs_an_overdue_order_with_a_complaint():
    assert reassignment_problem(overdue=True, complaints=1) is None
    assert reassignment_problem(overdue=True, complaints=3) is None
    why = reassignment_problem(overdue=False, complaints=1)
    assert "not overdue" in why
    assert "complaint" not in why.split(":", 1)[1]
    assert "no complaint" in reassignment_problem(overdue=True, complaints=0)
    both = reassignment_problem(overdue=False, complaints=0)
    assert "not overdue" in both
    assert "no complaint" in both


@pytest.mark.parametrize(("count", "exits"), [(0, False), (1, False), (2, True), (3, True)])
def test_the_second_reassignment_in_a_year_means_exit(count, exits):
    assert exits_after_reassignment(count, SEED) is exits
