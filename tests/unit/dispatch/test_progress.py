"""Progress reports as a use case over a fake unit of work: an agency moves its own order,
an office its subtree's owner assignments while the demand is open."""

from sqlalchemy import update

from services.dispatch.agency_orders import list_assignments
from services.dispatch.models import assignments
from services.dispatch.progress import report_progress
from tests.fakes import actor

PAT_A = actor("agency", "630100", agency_id="pat-a")
DISTRICT = actor("district", "630102")


def test_the_agencys_report_moves_its_order_and_the_demands_loop(alliance, accept, orders_of):
    [order] = orders_of(accept())
    out = report_progress(
        alliance, PAT_A, order["id"], {"stage": "started", "note": "开始"}, correlation_id="c"
    )
    assert (out["stage"], out["note"], out["demand_code"]) == (
        "started",
        "开始",
        order["demand_code"],
    )
    assert alliance.types()[-2:] == ["assignment.status_changed", "assignment.progress_reported"]
    reported = alliance.committed[-1].payload
    assert (reported["reported_by"], reported["assignee_type"]) == ("k-agency", "agency")
    [moved] = orders_of(order["demand_code"])
    assert moved["status"] == "in_progress"
    report_progress(
        alliance, PAT_A, order["id"], {"stage": "feedback", "note": "进展"}, correlation_id="c"
    )
    assert alliance.committed[-2].payload["action"] == "feedback"


def test_an_office_reports_on_open_owner_assignments_of_its_subtree(alliance, accept, refusal):
    code = accept(item="policy_consulting", agency_category=None)
    [owner] = list_assignments(alliance, DISTRICT, {"demand_code": code, "limit": 10})
    report_progress(
        alliance, DISTRICT, owner["id"], {"stage": "feedback", "note": ""}, correlation_id="c"
    )
    assert alliance.types()[-1] == "assignment.progress_reported"
    status, e = refusal(
        lambda: report_progress(
            alliance,
            actor("district", "630103"),
            owner["id"],
            {"stage": "started", "note": ""},
            correlation_id="c",
        )
    )
    assert (status, e.message) == (404, f"No assignment {owner['id']} of yours.")
    with alliance:
        alliance.session.execute(update(assignments).values(status="done"))
        alliance.commit()
    status, e = refusal(
        lambda: report_progress(
            alliance, DISTRICT, owner["id"], {"stage": "feedback", "note": ""}, correlation_id="c"
        )
    )
    assert (status, e.message) == (409, "The assignment is done: its demand is closed.")


def test_an_agency_reports_on_its_own_orders_only(alliance, accept, orders_of, refusal):
    [order] = orders_of(accept())
    other = actor("agency", "630100", agency_id="pat-b")
    status, e = refusal(
        lambda: report_progress(
            alliance, other, order["id"], {"stage": "started", "note": ""}, correlation_id="c"
        )
    )
    assert (status, e.message) == (403, "This order is assigned to another agency.")
