"""Scorecards driven through the other services (embedded shape): table A.1 point by point
with its evidence, records, rule sets, what-if, rankings, KPIs, and the rebuild from the
archive giving identical scorecards."""

from __future__ import annotations

import io

import pytest
from openpyxl import load_workbook
from werkzeug.test import Client

from onestop.rebuild import rebuild
from shared.timezone import china_today
from tests.e2e.support import auth, drive, ready
from tests.support import wait_for

pytestmark = pytest.mark.e2e
API = "/scoring/api/v1"


def item(card, name):
    return next(i for p in card["parts"] for i in p["items"] if i["item"] == name)


def test_scorecard_point_by_point_with_evidence_and_rebuild(platform):
    c = Client(platform.wsgi)
    h, admin = auth(platform, "district"), auth(platform, "admin")
    ready(c, h)
    code = drive(c, h)
    month = china_today().strftime("%Y-%m")
    # records no event carries: with evidence, ratings in range, known units
    base = {"unit_id": "cd-kjj", "period": month, "evidence": "考核会议纪要 2026-11 第3号"}
    for kind, value in (
        ("integrity_rating", 5),
        ("attitude_rating", 4),
        ("assisted_application", 1),
    ):
        r = c.post(f"{API}/records", json={**base, "kind": kind, "value": value}, headers=admin)
        assert r.status_code == 201, r.get_data(as_text=True)
    bad = [
        ({**base, "kind": "integrity_rating", "value": 6}, 422),
        ({k: v for k, v in base.items() if k != "evidence"} | {"kind": "paper", "value": 1}, 422),
        ({**base, "unit_id": "nobody", "kind": "paper", "value": 1}, 404),
        ({**base, "kind": "paper", "value": 1.5}, 422),
    ]
    for body, status in bad:
        assert c.post(f"{API}/records", json=body, headers=admin).status_code == status, body
    assert (
        c.post(f"{API}/records", json={**base, "kind": "paper", "value": 1}, headers=h).status_code
        == 201
    )

    def card():
        r = c.get(f"{API}/scorecards?unit=cd-kjj&period={month}", headers=h)
        assert r.status_code == 200, r.get_data(as_text=True)
        got = r.get_json()
        return (
            got
            if item(got, "satisfaction")["points"]
            and item(got, "visits")["basis"]["visits"] >= 2
            and item(got, "technology_demands")["basis"].get("tech_solved")
            else None
        )

    got = wait_for(card)
    tech = item(got, "technology_demands")
    assert tech["basis"] == {
        "tech_collected": 1,
        "tech_analysed": 1,
        "tech_published": 1,
        "tech_matched": 0,
        "tech_solved": 1,
        "uncapped": 26,
    }
    assert tech["points"] == 20 and tech["cap"] == 20
    assert {rec["demand_code"] for rec in tech["records"]} == {code}
    assert item(got, "satisfaction")["points"] == 10  # a 5 maps to the full 10
    # ≥ 30 visits a year earn the full 15: a month's 2 visits are 24 a year → 9 points
    visits = item(got, "visits")
    assert visits["basis"] == {"visits": 2, "visits_per_12_months": 24}
    assert visits["points"] == 9 and len(visits["records"]) == 2
    assert item(got, "integrity")["points"] == 5 and item(got, "attitude")["points"] == 4
    assert item(got, "applications")["points"] == 10
    assert item(got, "research")["points"] == 2
    assert item(got, "integrity")["records"][0]["evidence"].startswith("考核会议纪要")
    eff = item(got, "efficiency")
    assert eff["basis"]["closed"] == 1 and eff["points"] in (0, 15)
    assert got["total"] == sum(p["subtotal"] for p in got["parts"])
    assert got["rule_set"]["version"] == 0 and got["rank"] == 1
    # a quarter counts the same records; its 2 visits are 8 a year: no visit points
    quarter = f"{month[:4]}-Q{(int(month[5:]) - 1) // 3 + 1}"
    q = c.get(f"{API}/scorecards?unit=cd-kjj&period={quarter}", headers=h).get_json()
    assert item(q, "visits")["points"] == 0 and q["total"] == got["total"] - 9
    assert c.get(f"{API}/scorecards?unit=cd-kjj&period=2026-13", headers=h).status_code == 422

    # rebuilding scoring from the archive gives identical scorecards
    assert platform.quiesce()
    before = c.get(f"{API}/rankings?jurisdiction=630102&period={month}", headers=h).get_json()
    staff_before = c.get(
        f"{API}/rankings?jurisdiction=630102&unit_type=staff&period={month}", headers=h
    ).get_json()
    counts = rebuild(platform.settings, "scoring")
    assert counts["applied"] > 0
    assert (
        c.get(f"{API}/rankings?jurisdiction=630102&period={month}", headers=h).get_json() == before
    )
    assert (
        c.get(
            f"{API}/rankings?jurisdiction=630102&unit_type=staff&period={month}", headers=h
        ).get_json()
        == staff_before
    )
    # a second rebuild, and duplicate events, change nothing
    rebuild(platform.settings, "scoring")
    assert (
        c.get(f"{API}/rankings?jurisdiction=630102&period={month}", headers=h).get_json() == before
    )

    # KPIs of the district for the month
    k = c.get(f"{API}/kpis?jurisdiction=630102&period={month}", headers=h).get_json()
    assert k["demands"]["closed"] >= 1 and k["demands"]["problem_solving_rate"] == 1.0
    assert k["demands"]["satisfaction"] == 5.0
    assert k["station_coverage"]["tech_sme_target"] == 0.15


def test_rule_sets_what_if_and_export(platform):
    c = Client(platform.wsgi)
    h, admin = auth(platform, "district"), auth(platform, "admin")
    ready(c, h)
    r = c.post(
        f"{API}/evaluate",
        json={"counts": {"visits": 31, "general_solved": 11}, "ratings": {"satisfaction": [4, 5]}},
        headers=h,
    )
    assert r.status_code == 200
    got = r.get_json()
    assert item(got, "visits")["points"] == 15 and item(got, "general_demands")["points"] == 10
    assert item(got, "satisfaction")["points"] == 8.75
    bad = c.post(
        f"{API}/evaluate",
        json={"ratings": {"integrity_rating": [5]}, "counts": {"visits": -1}},
        headers=h,
    )
    assert bad.status_code == 422
    rules = c.get(f"{API}/rule-sets/630100", headers=h).get_json()
    assert rules["version"] == 0 and any("satisfaction" in n for n in rules["notes"])
    body = rules["rule_set"]
    body["parts"][1]["items"][0]["cap"] = 40  # visits cap above the part's 30 points
    today = china_today().isoformat()
    r = c.put(
        f"{API}/rule-sets/630100", json={"effective_from": today, "rule_set": body}, headers=admin
    )
    assert (
        r.status_code == 422
        and "parts[1].points" in r.get_json()["error"]["fields"]["json"]["rule_set"]
    )
    body["parts"][1]["items"][0]["cap"] = 10
    body["parts"][1]["items"][0]["floor"] = 20
    r = c.put(
        f"{API}/rule-sets/630100", json={"effective_from": today, "rule_set": body}, headers=admin
    )
    assert r.status_code == 200 and r.get_json()["version"] == 1
    got = c.post(
        f"{API}/evaluate", json={"jurisdiction": "630102", "counts": {"visits": 25}}, headers=h
    ).get_json()
    assert got["rule_set"]["version"] == 1 and item(got, "visits")["points"] == 5
    got = c.post(
        f"{API}/evaluate",
        json={"jurisdiction": "630102", "version": 0, "counts": {"visits": 25}},
        headers=h,
    ).get_json()
    assert item(got, "visits")["points"] == 10
    month = china_today().strftime("%Y-%m")
    city = auth(platform, "staff")  # a city key (630100)
    assert c.get(f"{API}/rankings?jurisdiction=630100&period={month}", headers=h).status_code == 403
    x = c.get(f"{API}/rankings?jurisdiction=630100&period={month}&format=xlsx", headers=city)
    assert x.status_code == 200
    ws = load_workbook(io.BytesIO(x.data)).active
    assert ws.cell(1, 1).value.startswith("服务人员考核评价表") and ws.cell(3, 4).value.startswith(
        "廉洁"
    )
    assert ws.cell(4, 1).value == 1  # ranked
