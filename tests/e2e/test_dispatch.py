"""The agency alliance over HTTP (embedded shape): admission, orders in the agency's own
queue, agency actions, refusal and exit, reassignment (调单), blacklist, bad input."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from kombu import Connection
from sqlalchemy import update
from werkzeug.test import Client

from services.dispatch.models import assignments
from shared.timezone import china_today
from tests.e2e.support import auth
from tests.factories import DEMO_DEMAND
from tests.support import wait_for

pytestmark = pytest.mark.e2e
API = "/dispatch/api/v1"
IP_DEMAND = {**DEMO_DEMAND, "category": "ip", "service_item": "ip_filing"}


def bearer(key):
    return {"Authorization": f"Bearer {key}"}


def admit(c, h, agency_id, engagements=6, category="patent", rank=10):
    return c.post(
        f"{API}/agencies",
        json={
            "id": agency_id,
            "name": f"测试机构 {agency_id}",
            "category": category,
            "city": "630100",
            "rank_basis": rank,
            "engagements_two_years": engagements,
        },
        headers=h,
    )


def demand(c, h, **extra):
    r = c.post("/intake/api/v1/demands", json={**IP_DEMAND, **extra}, headers=h)
    assert r.status_code == 201, r.get_data(as_text=True)
    return r.get_json()["code"]


def order_of(c, h, code):
    def found():
        items = c.get(f"{API}/assignments?demand_code={code}&kind=agency", headers=h).get_json()
        open_ = [i for i in items["items"] if i["status"] not in ("reassigned", "withdrawn")]
        return open_[0] if open_ else None

    return wait_for(found)


def make_overdue(platform, assignment_id):
    svc = platform.services["dispatch"]
    with svc.uow() as uow:
        uow.session.execute(
            update(assignments)
            .where(assignments.c.id == assignment_id)
            .values(due_at=datetime.now(UTC) - timedelta(hours=1))
        )
        uow.commit()


def test_admission_order_in_its_own_queue_and_the_agency_actions(platform):
    c = Client(platform.wsgi)
    admin, district = auth(platform, "admin"), auth(platform, "district")
    r = admit(c, admin, "ag-pat-9", engagements=4)
    assert r.status_code == 422
    assert "at least 5" in r.get_json()["error"]["fields"]["json"]["engagements_two_years"][0]
    assert admit(c, district, "ag-pat-9").status_code == 403  # 630102 cannot admit to 630100
    r = admit(c, admin, "ag-pat-9")
    assert r.status_code == 201, r.get_data(as_text=True)
    body = r.get_json()
    assert body["broker"]["queue"] == "agency.ag-pat-9" and body["status"] == "active"
    assert admit(c, admin, "ag-pat-9").status_code == 409
    mine = bearer(body["api_key"])
    listed = c.get(f"{API}/agencies", headers=mine).get_json()["items"]
    assert [a["id"] for a in listed] == ["ag-pat-9"]  # an agency sees itself only

    code = demand(c, district, ordered_agency="ag-pat-9", consent_to_share=True)
    order = order_of(c, district, code)
    assert order["assignee_id"] == "ag-pat-9" and order["status"] == "dispatched"
    detail = c.get(f"{API}/assignments/{order['id']}", headers=mine).get_json()
    assert detail["decision"]["outcome"] == "ordered"
    assert detail["details"]["title"] == IP_DEMAND["title"]  # consent given

    # the order waits in the agency's own in-process queue
    with Connection(platform.settings.broker_url) as conn:
        q = conn.SimpleQueue("agency.ag-pat-9")
        msg = q.get(timeout=5)
        assert msg.payload["payload"]["assignment_id"] == order["id"]
        assert msg.payload["event_type"] == "agency.order_dispatched"
        msg.ack()
        q.close()

    other = auth(platform, "agency")  # the demo key of ag-pat-1
    r = c.post(f"{API}/assignments/{order['id']}/acknowledge", json={}, headers=other)
    assert r.status_code == 403
    assert c.get(f"{API}/assignments/{order['id']}", headers=other).status_code == 404
    assert c.get(f"{API}/assignments?demand_code={code}", headers=other).get_json()["items"] == []

    r = c.post(f"{API}/assignments/{order['id']}/acknowledge", json={"note": "收到"}, headers=mine)
    assert r.status_code == 200 and r.get_json()["status"] == "acknowledged"
    r = c.post(f"{API}/assignments/{order['id']}/acknowledge", json={}, headers=mine)
    assert r.status_code == 409 and "allowed" in r.get_json()["error"]["message"]
    r = c.post(f"{API}/assignments/{order['id']}/progress", json={"stage": "started"}, headers=mine)
    assert r.status_code == 202
    # the agency's report moves the demand's loop in intake
    wait_for(
        lambda: (
            c.get(f"/intake/api/v1/demands/{code}", headers=district).get_json()["status"]
            == "in_progress"
        )
    )
    funds = china_today() - timedelta(days=2)
    future = china_today() + timedelta(days=2)
    r = c.post(
        f"{API}/assignments/{order['id']}/complete",
        json={"goal_reached": True, "funds_received_on": future.isoformat()},
        headers=mine,
    )
    assert r.status_code == 422
    r = c.post(
        f"{API}/assignments/{order['id']}/complete",
        json={"goal_reached": True, "funds_received_on": funds.isoformat()},
        headers=mine,
    )
    assert r.status_code == 200, r.get_data(as_text=True)
    done = r.get_json()
    assert done["status"] == "completed"
    assert done["settlement_due"] == (funds + timedelta(days=7)).isoformat()
    assert [h["action"] for h in done["history"]] == ["acknowledge", "start", "complete"]
    r = c.post(f"{API}/assignments/{order['id']}/refuse", json={"reason": "x"}, headers=mine)
    assert r.status_code == 409
    text = c.get("/dispatch/metrics").get_data(as_text=True)
    assert 'onestop_dispatch_decisions_total{outcome="ordered"}' in text
    assert 'onestop_dispatch_agency_orders_month{agency="ag-pat-9"} 1.0' in text
    assert 'onestop_dispatch_agencies{status="active"}' in text


def test_refusal_then_unjustified_after_coordination_means_exit(platform):
    c = Client(platform.wsgi)
    admin, district = auth(platform, "admin"), auth(platform, "district")
    key = bearer(admit(c, admin, "ag-pat-8").get_json()["api_key"])
    code = demand(c, district, ordered_agency="ag-pat-8")
    order = order_of(c, district, code)
    r = c.post(f"{API}/assignments/{order['id']}/refuse", json={"reason": "忙"}, headers=key)
    assert r.status_code == 200 and r.get_json()["status"] == "refused"
    r = c.post(
        f"{API}/assignments/{order['id']}/coordination",
        json={"outcome": "unjustified", "note": "协调后仍拒接"},
        headers=admin,
    )
    assert r.status_code == 200, r.get_data(as_text=True)
    assert r.get_json()["status"] == "withdrawn"
    agency = c.get(f"{API}/agencies/ag-pat-8", headers=admin).get_json()
    assert agency["status"] == "exited" and "第二十二条第一项" in agency["status_reason"]
    nxt = order_of(c, district, code)
    assert nxt["assignee_id"] != "ag-pat-8" and nxt["replaces"] == order["id"]
    # exited agencies get nothing, not even enterprise orders
    code2 = demand(c, district, ordered_agency="ag-pat-8")
    assert order_of(c, district, code2)["assignee_id"] != "ag-pat-8"
    r = c.post(f"{API}/agencies/ag-pat-8/resume", json={}, headers=admin)
    assert r.status_code == 409


def test_reassignment_needs_overdue_and_complaint_and_twice_means_exit(platform):
    c = Client(platform.wsgi)
    admin, district = auth(platform, "admin"), auth(platform, "district")
    admit(c, admin, "ag-pat-7")
    codes = [demand(c, district, ordered_agency="ag-pat-7") for _ in range(3)]
    orders = []
    for n, code in enumerate(codes, start=1):  # the 3rd: an exited agency's open order
        order = order_of(c, district, code)
        assert order["assignee_id"] == "ag-pat-7"
        r = c.post(f"{API}/assignments/{order['id']}/reassign", json={}, headers=admin)
        assert r.status_code == 409
        # a county key may complain but not move a city alliance's order
        assert (
            c.post(
                f"{API}/assignments/{order['id']}/reassign", json={}, headers=district
            ).status_code
            == 403
        )
        assert "not overdue" in r.get_json()["error"]["message"]
        assert "no complaint" in r.get_json()["error"]["message"]
        r = c.post(
            f"{API}/assignments/{order['id']}/complaints",
            json={"source": "enterprise", "text": "进度严重滞后"},
            headers=admin,
        )
        assert r.status_code == 201
        make_overdue(platform, order["id"])
        r = c.post(
            f"{API}/assignments/{order['id']}/reassign", json={"note": "调单"}, headers=admin
        )
        assert r.status_code == 200, r.get_data(as_text=True)
        moved = r.get_json()
        assert moved["status"] == "reassigned" and moved["reassigned_to"] not in (None, "ag-pat-7")
        assert len(moved["complaints"]) == 1
        new = order_of(c, district, code)
        assert new["assignee_id"] == moved["reassigned_to"] and new["replaces"] == order["id"]
        # the new agency gets the time the old one had, from now: it does not start overdue
        assert datetime.fromisoformat(new["due_at"]) > datetime.now(UTC)
        status = c.get(f"{API}/agencies/ag-pat-7", headers=admin).get_json()["status"]
        assert status == ("active" if n == 1 else "exited")  # 2 in a year: exit
        orders.append(order)

    def archived():
        events = c.get(f"/archive/api/v1/trace/{code}", headers=admin).get_json()["events"]
        return {e["event_type"] for e in events}

    want = {"assignment.complaint_filed", "assignment.status_changed", "agency.order_withdrawn"}
    wait_for(lambda: want <= archived())


def test_blacklist_rules_menu_and_bad_input(platform):
    c = Client(platform.wsgi)
    admin, district, staff = (auth(platform, r) for r in ("admin", "district", "staff"))
    r = c.put(f"{API}/alliances/630100/menu/ip_filing", json={"price": -1}, headers=admin)
    assert r.status_code == 422 and "price" in r.get_json()["error"]["fields"]["json"]
    r = c.put(f"{API}/alliances/630100/menu/no_such", json={"price": 1}, headers=admin)
    assert r.status_code == 404
    r = c.put(
        f"{API}/alliances/630100/menu/ip_portfolio",
        json={"price": 20000, "policy_coverage": 8000, "expected_settlement_months": 18},
        headers=admin,
    )
    assert r.status_code == 200 and r.get_json()["bond"] == 5000  # min(12000, cap 5000)
    today = china_today().isoformat()
    r = c.put(
        f"{API}/alliances/630100/rules",
        json={"effective_from": today, "item_cap_percent": 150, "bond_max": -1},
        headers=admin,
    )
    assert r.status_code == 422
    assert set(r.get_json()["error"]["fields"]["json"]) == {"item_cap_percent", "bond_max"}
    r = c.put(
        f"{API}/alliances/630100/rules",
        json={"effective_from": today, "min_monthly_volume": 10},
        headers=admin,
    )
    assert r.status_code == 200 and r.get_json()["version"] == 1
    assert r.get_json()["rules"]["item_cap_percent"] == 50
    assert c.get(f"{API}/alliances/630100/rules", headers=staff).status_code == 200
    assert c.put(f"{API}/alliances/630100/rules", json={}, headers=staff).status_code == 403
    r = c.post(f"{API}/agencies/nobody/pause", json={"until": today, "reason": "x"}, headers=admin)
    assert r.status_code == 404
    r = c.post(
        f"{API}/agencies/ag-pat-2/pause", json={"until": "2020-01-01", "reason": "x"}, headers=admin
    )
    assert r.status_code == 422
    r = c.post(f"{API}/alliances/630100/month-close", json={"month": "0000-01"}, headers=admin)
    assert r.status_code == 422
    assert admit(c, admin, "ag-x", engagements=9).status_code == 201
    r = c.post(
        f"{API}/agencies",
        json={
            "id": "ag-y",
            "name": "y",
            "category": "rd",
            "city": "630300",  # no such prefecture in Qinghai
            "rank_basis": 1,
            "engagements_two_years": 9,
        },
        headers=admin,
    )
    assert r.status_code == 422 and "city" in r.get_json()["error"]["fields"]["json"]
    # a county key cannot move the city's staff into its own department
    r = c.put(
        f"{API}/staff/staff-001",
        json={"department_id": "cd-kjj", "name": "李明"},
        headers=district,
    )
    assert r.status_code == 403
    credit = IP_DEMAND["enterprise"]["credit_code"]
    body = {"city": "630100", "reason": "refused_payment", "note": "目标达成后拒付"}
    r = c.post(f"{API}/enterprises/{credit}/blacklist", json=body, headers=admin)
    assert r.status_code == 201
    assert (
        c.post(f"{API}/enterprises/{credit}/blacklist", json=body, headers=admin).status_code == 409
    )
    code = demand(c, district)
    decision = wait_for(
        lambda: c.get(f"{API}/decisions?demand_code={code}", headers=admin).get_json()["items"]
    )[0]
    assert decision["outcome"] == "blacklisted" and decision["agency_id"] is None
    owner = c.get(f"{API}/assignments?demand_code={code}", headers=district).get_json()["items"]
    assert [a["kind"] for a in owner] == ["owner"]  # the office still owns the demand
