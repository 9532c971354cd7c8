"""Co-handling a complex demand over HTTP, through the events (XN 复杂问题应协调多部门、科研
单位、专家资源联合处置): the expert pool, co-handlers with tasks and due days, their
feedback, the lead closing the demand (the open co-task ends with it), and the co-handling
department's scorecard showing its work."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import update
from werkzeug.test import Client

from services.dispatch.cohandling import sweep_overdue
from services.dispatch.models import cotasks
from shared.timezone import china_today
from tests.e2e.support import auth, trace
from tests.factories import DEMO_DEMAND
from tests.support import wait_for

pytestmark = pytest.mark.e2e
API = "/dispatch/api/v1"
INTAKE = "/intake/api/v1"


def item(card, name):
    return next(i for p in card["parts"] for i in p["items"] if i["item"] == name)


def expert(c, h, expert_id, **extra):
    body = {
        "jurisdiction": "630100",
        "name": f"专家 {expert_id}",
        "fields": ["新材料", "锂电池"],
        "institution": "青海大学",
        "phone": "0971-5310000",
        **extra,
    }
    return c.put(f"{API}/experts/{expert_id}", json=body, headers=h)


def test_a_complex_demand_is_co_handled_and_the_cohandlers_work_counts(platform):
    c = Client(platform.wsgi)
    admin, district, staff = (auth(platform, r) for r in ("admin", "district", "staff"))
    today = china_today()

    # the expert pool: filtered by field and availability
    assert expert(c, admin, "exp-li").status_code == 200
    r = expert(c, admin, "exp-wang", availability="unavailable", unavailable_until="2099-01-01")
    assert r.status_code == 200 and r.get_json()["available_today"] is False
    assert expert(c, district, "exp-zhao", jurisdiction="630100").status_code == 403
    r = expert(c, admin, "exp-x", availability="available", unavailable_until="2099-01-01")
    assert "unavailable_until" in r.get_json()["error"]["fields"]["json"]
    # (the demo's own pool holds ex-lithium, ex-pv and ex-tibetan-med)
    pool = c.get(f"{API}/experts?field=锂电池&available=true", headers=staff).get_json()
    assert [e["id"] for e in pool["items"]] == ["ex-lithium", "exp-li"]
    away = c.get(f"{API}/experts?available=false", headers=staff).get_json()["items"]
    assert [e["id"] for e in away] == ["exp-wang"]
    assert c.get(f"{API}/experts?field=航空航天", headers=staff).get_json()["items"] == []
    assert c.get(f"{API}/experts/exp-li", headers=district).status_code == 404  # 630100's pool

    # a complex technology demand of 630102: cd-kjj leads it
    r = c.post(f"{INTAKE}/demands", json={**DEMO_DEMAND, "complexity": "complex"}, headers=district)
    assert r.status_code == 201, r.get_data(as_text=True)
    code = r.get_json()["code"]

    def owner():
        items = c.get(f"{API}/assignments?demand_code={code}&kind=owner", headers=staff)
        got = items.get_json()["items"]
        return got[0] if got else None

    assert wait_for(owner)["assignee_id"] == "cd-kjj"
    url = f"{API}/demands/{code}/co-handlers"
    due = (today + timedelta(days=3)).isoformat()

    def add(h, **body):
        return c.post(url, json={"task": "联合攻关烧结工艺", "due_on": due, **body}, headers=h)

    # bad input: field-level 4xx, nothing written
    def refused(r):
        assert r.status_code == 422, r.get_data(as_text=True)
        return r.get_json()["error"]["fields"]["json"]

    # the city's office (above the lead) sees 城中区's department: a sibling of the demand's
    assert refused(add(staff, kind="department", id="cz-kjj")) == {
        "id": ["outside the demand's jurisdiction"]
    }
    # the county's office does not see it at all
    assert refused(add(district, kind="department", id="cz-kjj")) == {"id": ["unknown department"]}
    assert refused(add(staff, kind="expert", id="exp-wang")) == {
        "id": ["the expert is unavailable until 2099-01-01"]
    }
    r = add(
        district, kind="department", id="xn-hitech", due_on=(today - timedelta(days=1)).isoformat()
    )
    assert r.get_json()["error"]["fields"]["json"]["due_on"] == ["in the past"]
    assert add(district, kind="department", id="cd-kjj").status_code == 422  # the lead itself
    assert add(district, kind="institute").status_code == 422  # an institute is named
    assert add(auth(platform, "agency"), kind="department", id="xn-hitech").status_code == 403
    assert c.get(url, headers=staff).get_json()["items"] == []

    # two co-handlers (a city department and an expert of the city's pool: the city's
    # office sees both) and an institute
    dept = add(staff, kind="department", id="xn-hitech")
    assert dept.status_code == 201, dept.get_data(as_text=True)
    dept = dept.get_json()
    assert dept["status"] == "open" and dept["lead_department_id"] == "cd-kjj"
    exp = add(staff, kind="expert", id="exp-li")
    assert exp.status_code == 201, exp.get_data(as_text=True)
    exp = exp.get_json()
    inst = add(
        district, kind="institute", name="中国科学院青海盐湖研究所", contact="王老师 0971-6300000"
    )
    assert inst.status_code == 201
    inst = inst.get_json()
    assert add(staff, kind="department", id="xn-hitech").status_code == 409  # already has one
    listed = c.get(url, headers=staff).get_json()["items"]
    assert [i["kind"] for i in listed] == ["department", "expert", "institute"]

    # feedback: a department's by its own office; an expert's recorded by the lead's
    fb = f"{url}/{dept['id']}/feedback"
    body = {"outcome": "done", "feedback": "组织高新技术科完成烧结工艺方案论证"}
    assert c.post(fb, json=body, headers=district).status_code == 403  # 630102 is not 630100's
    r = c.post(fb, json=body, headers=staff)
    assert r.status_code == 200, r.get_data(as_text=True)
    assert r.get_json()["status"] == "reported" and r.get_json()["outcome"] == "done"
    assert c.post(fb, json=body, headers=staff).status_code == 409  # once
    r = c.post(
        f"{url}/{exp['id']}/feedback",
        json={"outcome": "done", "feedback": "专家现场指导，能耗降低12%"},
        headers=district,
    )
    assert r.status_code == 200, r.get_data(as_text=True)
    assert c.post(fb, json={"outcome": "maybe", "feedback": "x"}, headers=staff).status_code == 422

    # an open co-task past its due day is a breach, escalated to the lead's leader, once
    svc = platform.services["dispatch"]
    with svc.uow() as uow:
        uow.session.execute(
            update(cotasks)
            .where(cotasks.c.id == inst["id"])
            .values(due_at=datetime.now(UTC) - timedelta(hours=1))
        )
        uow.commit()
    assert sweep_overdue(svc.uow()) == 1 and sweep_overdue(svc.uow()) == 0
    breaches = c.get(f"{API}/breaches", headers=district).get_json()["items"]
    assert [(b["assignment_id"], b["level"], b["escalated_to"]) for b in breaches] == [
        (inst["id"], "overdue", "staff-004")  # cd-kjj's leader
    ]

    # the lead closes the demand: the institute's open co-task ends with it
    for to, extra in (
        ("in_progress", {}),
        ("feedback", {}),
        ("closed", {"resolution": "solved"}),
    ):
        r = c.post(
            f"{INTAKE}/demands/{code}/transitions",
            json={"to": to, "note": to, **extra},
            headers=district,
        )
        assert r.status_code == 200, r.get_data(as_text=True)

    def ended():
        items = c.get(url, headers=staff).get_json()["items"]
        by_id = {i["id"]: i for i in items}
        return by_id if by_id[inst["id"]]["status"] == "ended_with_demand" else None

    by_id = wait_for(ended)
    assert by_id[dept["id"]]["status"] == "reported" and by_id[exp["id"]]["status"] == "reported"
    assert by_id[inst["id"]]["ended_at"] is not None
    r = c.post(f"{url}/{inst['id']}/feedback", json=body, headers=district)
    assert r.status_code == 409  # ended: no feedback any more
    assert add(staff, kind="department", id="hz-kjj").status_code in (409, 422)  # closed

    # the co-handling department's scorecard shows its work: a technology demand it
    # helped solve (A.1 解决企业需求), its record naming the demand
    month = today.strftime("%Y-%m")

    def card():
        r = c.get(f"/scoring/api/v1/scorecards?unit=xn-hitech&period={month}", headers=staff)
        assert r.status_code == 200, r.get_data(as_text=True)
        got = item(r.get_json(), "technology_demands")
        return got if got["basis"].get("tech_solved") else None

    tech = wait_for(card)
    assert tech["basis"]["tech_solved"] == 1 and tech["points"] == 20
    assert [(x["source"], x["demand_code"]) for x in tech["records"]] == [("co_handled", code)]
    tallies = c.get(f"/scoring/api/v1/tallies?period={month}&unit_id=xn-hitech", headers=staff)
    assert [(t["item"], t["stage"], t["count"]) for t in tallies.get_json()["items"]] == [
        ("technology_demands", "co_handled", 1)
    ]

    # the archive keeps the co-handling events with the demand's history
    def archived():
        events = trace(c, admin, code)
        return events if any(e["event_type"] == "cohandling.ended" for e in events) else None

    events = wait_for(archived)
    kinds = [e["event_type"] for e in events if e["event_type"].startswith("cohandling.")]
    assert kinds.count("cohandling.assigned") == 3 and kinds.count("cohandling.reported") == 2
