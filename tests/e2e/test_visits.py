"""The visit log over HTTP (embedded shape): a visit that raises a demand reaches intake,
scoring and the archive; versions, filters, plans, rules, compliance, ledger, bad input."""

from __future__ import annotations

import io
import re
from datetime import timedelta

import pytest
from openpyxl import load_workbook
from werkzeug.test import Client

from shared.timezone import china_today
from tests.e2e.support import ENT, auth, ready, trace, visit_body
from tests.support import wait_for

pytestmark = pytest.mark.e2e
API = "/visits/api/v1"
OTHER = "91630104710405288K"  # registered in 630104


def logged(c, kind="demand_survey"):
    """The counter of visits logged (process-wide: the tests compare differences)."""
    text = c.get("/visits/metrics").get_data(as_text=True)
    found = re.search(rf'onestop_visits_logged_total{{kind="{kind}"}} ([0-9.e+]+)', text)
    return float(found.group(1)) if found else 0.0


def test_a_visit_raises_a_demand_seen_in_intake_scoring_and_the_archive(platform):
    c = Client(platform.wsgi)
    h = auth(platform, "district")
    ready(c, h)
    before = logged(c)
    raised = {
        "credit_code": ENT,
        "category": "technology",
        "service_item": "process_improvement",
        "title": "烧结工艺节能改造",
        "description": "走访发现：烧结工序能耗高，需要工艺改进。",
        "consent_to_share": True,
    }
    r = c.post(
        f"{API}/visits",
        json=visit_body(demands_raised=[raised]),
        headers={**h, "Idempotency-Key": "visit-1", "X-Correlation-ID": "corr-visit-1"},
    )
    assert r.status_code == 201, r.get_data(as_text=True)
    visit = r.get_json()
    assert visit["department_id"] == "cd-kjj" and visit["staff_name"] == "陈静"
    # a retried submission is the same visit
    again = c.post(
        f"{API}/visits",
        json=visit_body(demands_raised=[raised]),
        headers={**h, "Idempotency-Key": "visit-1"},
    )
    assert again.status_code == 201 and again.get_json()["visit_id"] == visit["visit_id"]
    assert again.headers["Idempotent-Replayed"] == "true"
    other = c.post(f"{API}/visits", json=visit_body(), headers={**h, "Idempotency-Key": "visit-1"})
    assert other.status_code == 409
    assert logged(c) - before == 1  # the replay and the refused retry logged nothing

    # the demand is created in intake (source field_visit) and linked back to the visit
    linked = wait_for(
        lambda: c.get(f"{API}/visits/{visit['visit_id']}", headers=h).get_json()["demands"]
    )
    code = linked[0]["demand_code"]
    demand = c.get(f"/intake/api/v1/demands/{code}", headers=h).get_json()
    assert demand["source"] == "field_visit" and demand["title"] == raised["title"]
    # the visit counts in scoring for the staff member and the department
    month = china_today().strftime("%Y-%m")

    def tallied():
        items = c.get(f"/scoring/api/v1/tallies?period={month}", headers=h).get_json()["items"]
        return {(i["unit_id"], i["item"]) for i in items if i["item"] == "visits"}

    wait_for(lambda: {("staff-005", "visits"), ("cd-kjj", "visits")} <= tallied())
    # the demand's archive trace shows the visit it came from
    types = wait_for(
        lambda: (
            (t := [e["event_type"] for e in trace(c, h, code)]) and "visit.demand_linked" in t and t
        )
    )
    assert types[0] == "demand.accepted"
    events = trace(c, h, code)
    assert {e["correlation_id"] for e in events if e["event_type"] != "assignment.made"} == {
        "corr-visit-1"
    }


def test_versions_filters_and_bad_input(platform):
    c = Client(platform.wsgi)
    h = auth(platform, "district")
    ready(c, h)
    v = c.post(f"{API}/visits", json=visit_body(), headers=h).get_json()
    r = c.put(
        f"{API}/visits/{v['visit_id']}",
        json=visit_body(findings="更正：能耗数据已核实", reason="补充核实结果"),
        headers=h,
    )
    assert r.status_code == 200 and r.get_json()["version"] == 2
    history = c.get(f"{API}/visits/{v['visit_id']}/versions", headers=h).get_json()["items"]
    assert [x["findings"] for x in history] == ["烧结能耗偏高", "更正：能耗数据已核实"]
    page = c.get(f"{API}/visits?enterprise={ENT}&kind=demand_survey&limit=1", headers=h).get_json()
    assert len(page["items"]) == 1 and page["items"][0]["version"] == 2
    tomorrow = (china_today() + timedelta(days=1)).isoformat()
    yesterday = (china_today() - timedelta(days=1)).isoformat()
    bad = [
        (visit_body(visited_on=tomorrow), 422, "visited_on"),
        (
            visit_body(  # yesterday: whatever the hour now, these times are past
                visited_on=yesterday,
                started_at=f"{yesterday}T10:00:00+08:00",
                ended_at=f"{yesterday}T09:00:00+08:00",
            ),
            422,
            "ended_at",
        ),
        (
            visit_body(
                started_at=f"{yesterday}T09:00:00+08:00",
                ended_at=f"{yesterday}T10:00:00+08:00",
                duration_minutes=5,
            ),
            422,
            "started_at",  # not on visited_on
        ),
        (visit_body(department_id="cz-kjj"), 422, "department_id"),  # not staff-005's
        (visit_body(follow_up_of=["630102-2026-999999"]), 422, "follow_up_of"),
        (visit_body(staff_id="nobody"), 422, "staff_id"),
        (visit_body(enterprises=["91630100MA752UF1XX"]), 422, "enterprises"),
        (visit_body(kind="party"), 422, "kind"),
    ]
    for body, status, field in bad:
        r = c.post(f"{API}/visits", json=body, headers=h)
        assert r.status_code == status, (body, r.get_data(as_text=True))
        assert field in r.get_json()["error"]["fields"]["json"], r.get_json()
    # an enterprise outside the caller's jurisdiction (630102 key, 630104 enterprise)
    r = c.post(f"{API}/visits", json=visit_body(enterprises=[OTHER]), headers=h)
    assert r.status_code == 403
    assert c.get(f"{API}/visits?period=2026-13", headers=h).status_code == 422


def test_plans_rules_compliance_and_ledger(platform):
    c = Client(platform.wsgi)
    h, admin = auth(platform, "district"), auth(platform, "admin")
    ready(c, h)
    today = china_today()
    plan = c.post(
        f"{API}/plans",
        json={
            "staff_id": "staff-005",
            "enterprises": [ENT],
            "planned_on": today.isoformat(),
            "kind": "policy_briefing",
        },
        headers=h,
    ).get_json()
    assert plan["status"] == "planned"
    v = c.post(f"{API}/visits", json=visit_body(kind="policy_briefing"), headers=h).get_json()
    r = c.post(f"{API}/plans/{plan['id']}/done", json={"visit_id": v["visit_id"]}, headers=h)
    assert r.status_code == 200 and r.get_json()["status"] == "done"
    r = c.post(f"{API}/plans/{plan['id']}/cancel", json={"reason": "x"}, headers=h)
    assert r.status_code == 409
    # rules are data: from next Monday, a city asks for 2 weekly visits of its departments
    monday = today + timedelta(days=7 - today.weekday())
    r = c.put(
        f"{API}/frequency-rules/630100",
        json={"effective_from": monday.isoformat(), "department_weekly": 2},
        headers=admin,
    )
    assert r.status_code == 200 and r.get_json()["versions"][-1]["version"] == 1
    r = c.put(
        f"{API}/frequency-rules/630100",
        json={"effective_from": today.isoformat(), "station_duty_days_per_five": 6},
        headers=admin,
    )
    assert r.status_code == 422

    def week_of(day):
        y, w, _ = day.isocalendar()
        return f"{y}-W{w:02d}"

    week, next_week = week_of(today), week_of(today + timedelta(days=7))
    items = c.get(f"{API}/compliance?period={week}", headers=h).get_json()["items"]
    mine = next(i for i in items if i["subject_id"] == "cd-kjj")
    # this week is still under the seeds' rule (1 visit), met
    assert (mine["required"], mine["done"], mine["rule_version"], mine["status"]) == (
        1,
        1,
        0,
        "met",
    )
    items = c.get(f"{API}/compliance?period={next_week}", headers=h).get_json()["items"]
    mine = next(i for i in items if i["subject_id"] == "cd-kjj")
    assert (mine["required"], mine["done"], mine["rule_version"]) == (2, 0, 1)
    assert mine["status"] == "open" and mine["shortfall"] == 2
    assert c.get(f"{API}/compliance?period=soon", headers=h).status_code == 422
    ledger = c.get(f"{API}/ledger?unit=staff-005&period={week}", headers=h).get_json()
    assert ledger["totals"]["visits"] == 1 and ledger["unit"]["name"] == "陈静"
    x = c.get(f"{API}/ledger?unit=staff-005&period={week}&format=xlsx", headers=h)
    assert x.status_code == 200
    ws = load_workbook(io.BytesIO(x.data)).active
    assert ws.cell(2, 1).value == "走访日期" and ws.cell(3, 2).value == "陈静"
