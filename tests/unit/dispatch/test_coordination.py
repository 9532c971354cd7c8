"""Taking an order from one agency to the next, as use cases over a fake unit of work:
the coordination of a refusal and the reassignment (调单); and the replacement's
deadline, a pure rule."""

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select, update

from services.dispatch import agency_orders as orders
from services.dispatch.coordination import coordinate, fresh_deadline, reassign
from services.dispatch.models import agencies, assignments
from tests.fakes import actor

PAT_A = actor("agency", "630100", agency_id="pat-a")
CITY = actor("admin", "630100")
COUNTY = actor("district", "630102")


@pytest.fixture
def order(alliance, accept, orders_of):
    [row] = orders_of(accept())
    return row["id"]


def agency_status(uow, agency_id):
    with uow.read() as s:
        return s.execute(select(agencies.c.status).where(agencies.c.id == agency_id)).scalar()


def overdue(uow, assignment_id):
    with uow:
        uow.session.execute(
            update(assignments)
            .where(assignments.c.id == assignment_id)
            .values(due_at=datetime.now(UTC) - timedelta(hours=1))
        )
        uow.commit()


def test_a_refusal_complied_with_goes_back_to_the_agency(alliance, order):
    orders.act(alliance, PAT_A, order, "refuse", {"reason": "忙"}, correlation_id="c")
    out = coordinate(
        alliance, CITY, order, {"outcome": "complied", "note": "协调"}, correlation_id="c"
    )
    assert out["status"] == "acknowledged" and agency_status(alliance, "pat-a") == "active"


def test_an_unjustified_refusal_means_exit_and_the_next_agency(alliance, order, orders_of):
    orders.act(alliance, PAT_A, order, "refuse", {"reason": "忙"}, correlation_id="c")
    out = coordinate(
        alliance, CITY, order, {"outcome": "unjustified", "note": "仍拒接"}, correlation_id="c"
    )
    assert out["status"] == "withdrawn"
    assert agency_status(alliance, "pat-a") == "exited"
    [nxt] = [o for o in orders_of(out["demand_code"]) if o["id"] != order]
    assert (nxt["assignee_id"], nxt["replaces"]) == ("pat-b", order)
    exited = [e for e in alliance.committed if e.event_type == "agency.status_changed"]
    assert "第二十二条第一项" in exited[-1].payload["reason"]


def test_a_justified_refusal_moves_the_order_on_and_the_agency_stays(alliance, order, orders_of):
    orders.act(alliance, PAT_A, order, "refuse", {"reason": "利益冲突"}, correlation_id="c")
    out = coordinate(
        alliance, CITY, order, {"outcome": "justified", "note": "理由成立"}, correlation_id="c"
    )
    assert out["status"] == "withdrawn" and agency_status(alliance, "pat-a") == "active"
    assert {o["assignee_id"] for o in orders_of(out["demand_code"])} == {"pat-a", "pat-b"}


def test_coordination_belongs_to_the_citys_managers(alliance, order, refusal):
    status, e = refusal(
        lambda: coordinate(
            alliance, COUNTY, order, {"outcome": "complied", "note": "x"}, correlation_id="c"
        )
    )
    assert status == 403 and "630100's alliance" in e.message
    status, _ = refusal(
        lambda: coordinate(
            alliance,
            actor("admin", "630200"),
            order,
            {"outcome": "complied", "note": "x"},
            correlation_id="c",
        )
    )
    assert status == 404
    status, e = refusal(
        lambda: coordinate(
            alliance, CITY, order, {"outcome": "complied", "note": "x"}, correlation_id="c"
        )
    )
    assert status == 409 and "cannot comply an order that is dispatched" in e.message


def test_reassignment_needs_an_overdue_order_with_a_complaint_and_twice_means_exit(
    alliance, accept, orders_of, refusal
):
    for n in (1, 2):
        [order] = orders_of(accept(ordered_agency="pat-a"))
        assert order["assignee_id"] == "pat-a"
        status, e = refusal(
            lambda order=order: reassign(
                alliance, CITY, order["id"], {"note": ""}, correlation_id="c"
            )
        )
        assert status == 409 and "not overdue" in e.message and "no complaint" in e.message
        complaint = {"source": "enterprise", "text": "进度严重滞后"}
        orders.complain(alliance, CITY, order["id"], complaint, correlation_id="c")
        overdue(alliance, order["id"])
        moved = reassign(alliance, CITY, order["id"], {"note": "调单"}, correlation_id="c")
        assert moved["status"] == "reassigned" and moved["reassigned_to"] == "pat-b"
        [new] = [o for o in orders_of(order["demand_code"]) if o["id"] != order["id"]]
        assert new["replaces"] == order["id"] and new["due_at"] > datetime.now(UTC)
        assert agency_status(alliance, "pat-a") == ("active" if n == 1 else "exited")
    assert sum(e.event_type == "agency.order_withdrawn" for e in alliance.committed) == 2


def test_an_agency_that_no_longer_handles_a_demand_keeps_no_content_without_consent(
    alliance, accept, orders_of, deliver
):
    """Reassigned (调单): the new agency reads the brief, the old order keeps none; with
    consent granted later, every order carries it; consent withdrawn again, only the
    agency handling the demand keeps it."""
    from services.dispatch.consumers import on_demand_consent_changed

    code = accept(ordered_agency="pat-a")
    [order] = orders_of(code)
    orders.complain(
        alliance, CITY, order["id"], {"source": "enterprise", "text": "滞后"}, correlation_id="c"
    )
    overdue(alliance, order["id"])
    reassign(alliance, CITY, order["id"], {"note": "调单"}, correlation_id="c")
    by_id = {o["id"]: o for o in orders_of(code)}
    [new] = [o for o in by_id.values() if o["id"] != order["id"]]
    assert by_id[order["id"]]["brief"] is None and new["brief"] is not None
    brief = {"title": "新标题", "description": "说明", "contact": None}
    consent = {
        "demand_code": code,
        "consent_to_share": True,
        "brief": brief,
        "actor": "k",
        "at": datetime.now(UTC).isoformat(),
    }
    deliver("demand.consent_changed", on_demand_consent_changed, **consent)
    assert all(o["brief"] and "新标题" in o["brief"] for o in orders_of(code))
    withdrawn = {**consent, "consent_to_share": False, "brief": None}
    deliver("demand.consent_changed", on_demand_consent_changed, **withdrawn)
    by_id = {o["id"]: o for o in orders_of(code)}
    assert by_id[order["id"]]["brief"] is None and "新标题" in by_id[new["id"]]["brief"]


def test_a_replacement_gets_the_span_the_replaced_order_had_at_least_a_day():
    assigned = datetime(2026, 11, 1, tzinfo=UTC)
    now = datetime(2026, 11, 20, tzinfo=UTC)
    assert fresh_deadline(assigned, assigned + timedelta(days=5), now) == now + timedelta(days=5)
    assert fresh_deadline(assigned, assigned + timedelta(hours=2), now) == now + timedelta(days=1)
    assert fresh_deadline(assigned, None, now) is None
