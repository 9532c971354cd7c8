"""An agency order's life as use cases over a fake unit of work: the agency's own steps,
complaints, and who reads what."""

from datetime import timedelta

import pytest
from sqlalchemy import select

from services.dispatch import agency_orders as orders
from services.dispatch.models import complaints, order_events
from shared.timezone import china_today
from tests.fakes import actor

PAT_A = actor("agency", "630100", agency_id="pat-a")
PAT_B = actor("agency", "630100", agency_id="pat-b")
DISTRICT = actor("district", "630102")
ELSEWHERE = actor("district", "630103")


@pytest.fixture
def order(alliance, accept, orders_of):
    """The id of pat-a's order for a fresh patent demand."""
    [row] = orders_of(accept())
    assert row["assignee_id"] == "pat-a"
    return row["id"]


def owner_assignment(uow):
    [owner] = orders.list_assignments(uow, DISTRICT, {"kind": "owner", "limit": 10})
    return owner["id"]


def test_the_agency_acknowledges_its_order_once(alliance, order, refusal):
    out = orders.act(alliance, PAT_A, order, "acknowledge", {"note": "收到"}, correlation_id="c1")
    assert out["status"] == "acknowledged"
    assert [h["action"] for h in out["history"]] == ["acknowledge"]
    [changed] = [e for e in alliance.committed if e.event_type == "assignment.status_changed"]
    p = changed.payload
    assert (p["from_status"], p["to_status"], p["actor"]) == (
        "dispatched",
        "acknowledged",
        "k-agency",
    )
    assert changed.correlation_id == "c1"
    status, e = refusal(
        lambda: orders.act(alliance, PAT_A, order, "acknowledge", {"note": ""}, correlation_id="c")
    )
    assert (
        status == 409
        and "allowed: start, feedback, complete, refuse, reassign, withdraw" in e.message
    )


def test_only_the_agency_itself_moves_its_order(alliance, order, refusal):
    status, e = refusal(
        lambda: orders.act(alliance, PAT_B, order, "acknowledge", {"note": ""}, correlation_id="c")
    )
    assert (status, e.message) == (403, "This order is assigned to another agency.")
    status, e = refusal(
        lambda: orders.act(alliance, DISTRICT, order, "refuse", {"reason": "x"}, correlation_id="c")
    )
    assert (status, e.message) == (403, "Only the agency itself can refuse its order.")
    status, _ = refusal(
        lambda: orders.act(
            alliance, ELSEWHERE, order, "refuse", {"reason": "x"}, correlation_id="c"
        )
    )
    assert status == 404
    status, e = refusal(
        lambda: orders.act(
            alliance,
            DISTRICT,
            owner_assignment(alliance),
            "refuse",
            {"reason": "x"},
            correlation_id="c",
        )
    )
    assert status == 403  # the role comes first, then the kind
    assert (
        orders.act(alliance, PAT_A, order, "refuse", {"reason": "忙"}, correlation_id="c")["status"]
        == "refused"
    )


def test_completion_sets_the_settlement_a_week_after_the_policy_funds(alliance, order, refusal):
    future = china_today() + timedelta(days=1)
    data = {"goal_reached": True, "funds_received_on": future, "note": ""}
    status, e = refusal(
        lambda: orders.act(alliance, PAT_A, order, "complete", data, correlation_id="c")
    )
    assert (status, e.message) == (422, "The funds cannot be received in the future.")
    assert alliance.committed[-1].event_type != "assignment.status_changed"
    orders.act(alliance, PAT_A, order, "acknowledge", {"note": ""}, correlation_id="c")
    funds = china_today() - timedelta(days=2)
    data = {"goal_reached": True, "funds_received_on": funds, "note": "完成"}
    done = orders.act(alliance, PAT_A, order, "complete", data, correlation_id="c")
    assert done["status"] == "completed" and done["settlement_due"] == funds + timedelta(days=7)
    assert done["goal_reached"] is True and done["closed_at"] is not None
    p = alliance.committed[-1].payload
    assert (p["goal_reached"], p["funds_received_on"], p["settlement_due"]) == (
        True,
        funds.isoformat(),
        (funds + timedelta(days=7)).isoformat(),
    )


def test_complaints_are_about_agency_orders_and_stay_with_the_office(alliance, order, refusal):
    c = orders.complain(
        alliance, DISTRICT, order, {"source": "enterprise", "text": "滞后"}, correlation_id="c"
    )
    assert (c["assignment_id"], c["source"], c["text"]) == (order, "enterprise", "滞后")
    [filed] = [e for e in alliance.committed if e.event_type == "assignment.complaint_filed"]
    assert filed.payload["complaint_id"] == c["id"] and filed.payload["assignee_id"] == "pat-a"
    with alliance.read() as s:
        assert s.execute(select(complaints.c.text)).scalars().all() == ["滞后"]
    status, e = refusal(
        lambda: orders.complain(
            alliance,
            DISTRICT,
            owner_assignment(alliance),
            {"source": "owner", "text": "x"},
            correlation_id="c",
        )
    )
    assert (status, e.message) == (409, "Complaints are about agency orders.")
    assert len(orders.get_order(alliance, DISTRICT, order)["complaints"]) == 1
    mine = orders.get_order(alliance, PAT_A, order)
    assert mine["complaints"] == [] and mine["decision"]["skipped"] == []  # not theirs to read


def test_an_order_is_read_by_its_agency_and_the_office_above_it_only(alliance, order, refusal):
    office = orders.get_order(alliance, DISTRICT, order)
    assert office["decision"]["outcome"] == "cap_override" and office["decision"]["skipped"]
    assert office["details"]["title"]  # the office above handles the demand too
    for other in (PAT_B, ELSEWHERE):
        status, e = refusal(lambda other=other: orders.get_order(alliance, other, order))
        assert (status, e.message) == (404, f"No assignment {order} of yours.")
    status, _ = refusal(lambda: orders.get_order(alliance, PAT_A, owner_assignment(alliance)))
    assert status == 404


def test_listing_shows_an_agency_its_own_orders_and_the_office_its_subtree(alliance, accept):
    code = accept()
    accept()  # the second goes to pat-b
    assert {
        a["kind"]
        for a in orders.list_assignments(alliance, DISTRICT, {"demand_code": code, "limit": 10})
    } == {
        "owner",
        "agency",
    }
    assert [a["assignee_id"] for a in orders.list_assignments(alliance, PAT_B, {"limit": 10})] == [
        "pat-b"
    ]
    assert orders.list_assignments(alliance, ELSEWHERE, {"limit": 10}) == []
    by_agency = orders.list_assignments(alliance, DISTRICT, {"agency_id": "pat-a", "limit": 10})
    assert [a["assignee_id"] for a in by_agency] == ["pat-a"]
    assert orders.list_assignments(alliance, DISTRICT, {"overdue": True, "limit": 10}) == []
    assert all("brief" not in a for a in orders.list_assignments(alliance, DISTRICT, {"limit": 10}))


def test_every_step_is_recorded_in_the_orders_history(alliance, order):
    orders.act(alliance, PAT_A, order, "refuse", {"reason": "忙"}, correlation_id="c")
    with alliance.read() as s:
        [row] = s.execute(select(order_events)).mappings().all()
    assert (row["action"], row["from_status"], row["to_status"], row["note"]) == (
        "refuse",
        "dispatched",
        "refused",
        "忙",
    )
