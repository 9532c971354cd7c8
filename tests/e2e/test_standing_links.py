"""Standing 包保 links over HTTP, through the events (embedded shape): enterprises are
linked to their owners before any demand, visits follows at once, an explicit link beats
the rules, a transfer moves links and open demands with history, and the old owner's
scorecard keeps its facts."""

from __future__ import annotations

import pytest
from werkzeug.test import Client

from shared.creditcodes import credit_check_char
from shared.timezone import china_today
from tests.e2e.support import auth, ready
from tests.support import wait_for

pytestmark = pytest.mark.e2e
D, V, IN, S = "/dispatch/api/v1", "/visits/api/v1", "/intake/api/v1", "/scoring/api/v1"


def code(n: int) -> str:
    c17 = f"91630102MA7WB{n:04d}"
    return c17 + credit_check_char(c17)


KEY, PLAIN, HITECH = code(1), code(2), code(3)


def register(c, h, credit_code, **profile):
    body = {"credit_code": credit_code, "name": f"企业{credit_code[-4:]}", "jurisdiction": "630102"}
    r = c.post(f"{IN}/enterprises", json={**body, **profile}, headers=h)
    assert r.status_code == 201, r.get_data(as_text=True)


def link(c, h, credit_code):
    r = c.get(f"{D}/enterprises/{credit_code}/owner", headers=h)
    assert r.status_code == 200, r.get_data(as_text=True)
    return r.get_json()


def standing(c, h, credit_code):
    """Visits' standing links of the enterprise: {(unit_type, unit_id): basis}."""
    r = c.get(f"{V}/links?enterprise={credit_code}&standing=true", headers=h)
    assert r.status_code == 200, r.get_data(as_text=True)
    return {(x["unit_type"], x["unit_id"]): x["basis"] for x in r.get_json()["items"]}


def demand(c, h, credit_code, category):
    body = {
        "enterprise": {"credit_code": credit_code},
        "category": category,
        "title": "需求",
        "description": "说明",
        "source": "online",
    }
    r = c.post(f"{IN}/demands", json=body, headers=h)
    assert r.status_code == 201, r.get_data(as_text=True)
    number = r.get_json()["code"]
    return number, wait_for(lambda: c.get(f"{IN}/demands/{number}", headers=h).get_json()["owner"])


def test_standing_links_explicit_links_transfers_and_scorecards(platform):
    c = Client(platform.wsgi)
    h, admin = auth(platform, "district"), auth(platform, "admin")  # 城东区 630102; province
    ready(c, h)
    segments = ["key", "hitech_enterprise"]
    dept = {"jurisdiction": "630102", "name": "重点企业服务科", "segments": segments}
    assert c.put(f"{D}/departments/cd-key", json=dept, headers=h).status_code == 200
    for sid, name in (("cd-key-1", "刘洋"), ("cd-key-2", "孙丽")):
        body = {"department_id": "cd-key", "name": name}
        assert c.put(f"{D}/staff/{sid}", json=body, headers=h).status_code == 200
    register(c, h, KEY, is_key=True)
    register(c, h, PLAIN)
    register(c, h, HITECH, growth_tier="hitech_enterprise")

    # linked by the segment rules before any demand, and visits knows it at once
    def mapped():
        r = c.get(f"{D}/responsibility-map?jurisdiction=630102&limit=500", headers=h)
        assert r.status_code == 200, r.get_data(as_text=True)
        got = {x["credit_code"]: (x["department_id"], x["basis"]) for x in r.get_json()["items"]}
        return got if {KEY, PLAIN, HITECH} <= set(got) else None

    got = wait_for(mapped)
    assert got[KEY] == ("cd-key", "rule:key")
    assert got[HITECH] == ("cd-key", "rule:hitech_enterprise")
    assert got[PLAIN] == ("cd-kjj", "rule:default")
    r = c.get(f"{D}/responsibility-map?segment=key&department_id=cd-key", headers=h).get_json()
    assert [x["credit_code"] for x in r["items"]] == [KEY]
    page = c.get(f"{D}/responsibility-map?jurisdiction=630102&limit=1", headers=h).get_json()
    assert len(page["items"]) == 1 and page["next_cursor"]
    assert wait_for(lambda: standing(c, h, KEY)) == {("department", "cd-key"): "rule:key"}
    assert wait_for(lambda: standing(c, h, PLAIN)) == {("department", "cd-kjj"): "rule:default"}
    one = c.get(f"{V}/links?enterprise={KEY}", headers=h).get_json()["items"][0]
    assert one["last_demand_code"] is None and one["demand_count"] == 0  # no demand yet

    # the named person (专人包保) joins the link
    r = c.put(f"{D}/enterprises/{KEY}/named-owner", json={"staff_id": "cd-key-1"}, headers=h)
    assert r.status_code == 200
    assert wait_for(lambda: len(standing(c, h, KEY)) == 2)
    assert standing(c, h, KEY)[("staff", "cd-key-1")] == "rule:key"

    # an explicit link beats the rule, until removed; its history is readable
    r = c.put(f"{D}/enterprises/{PLAIN}/owner", json={"staff_id": "cd-key-2"}, headers=h)
    assert r.status_code == 200, r.get_data(as_text=True)
    got = r.get_json()
    assert (got["link"]["department_id"], got["link"]["staff_id"]) == ("cd-key", "cd-key-2")
    assert got["link"]["basis"] == "explicit"
    assert [v["basis"] for v in got["history"]] == ["rule:default", "explicit"]
    assert got["history"][0]["until"] == got["history"][1]["since"]
    want = {("department", "cd-key"): "explicit", ("staff", "cd-key-2"): "explicit"}
    assert wait_for(lambda: standing(c, h, PLAIN) == want)
    assert (
        not [  # cd-kjj was linked by the rule only: the row is gone
            x
            for x in c.get(f"{V}/links?enterprise={PLAIN}", headers=h).get_json()["items"]
            if x["unit_id"] == "cd-kjj"
        ]
    )
    # a department change relinks by the rules, but the explicit link holds
    dept["segments"] = ["key", "hitech_enterprise", "tech_sme"]
    assert c.put(f"{D}/departments/cd-key", json=dept, headers=h).status_code == 200
    assert link(c, h, PLAIN)["link"]["basis"] == "explicit"
    # bad input: field-level 422s, nothing written
    bad = [
        ({"department_id": "cd-kjj", "staff_id": "cd-key-2"}, "staff_id"),  # not its member
        ({"staff_id": "nobody"}, "staff_id"),
        ({"department_id": "xn-talent"}, "department_id"),  # above the district's subtree
    ]
    for body, field in bad:
        r = c.put(f"{D}/enterprises/{PLAIN}/owner", json=body, headers=h)
        assert r.status_code == 422 and field in r.get_json()["error"]["fields"]["json"], body
    assert len(link(c, h, PLAIN)["history"]) == 2

    # a new demand's owner follows the standing link (the category rule would say cd-kjj)
    _, owner = demand(c, h, HITECH, "talent")
    assert (owner["type"], owner["id"]) == ("department", "cd-key")
    number, owner = demand(c, h, KEY, "technology")
    assert (owner["type"], owner["id"]) == ("staff", "cd-key-1")
    month = china_today().strftime("%Y-%m")

    def collected(unit):
        r = c.get(f"{S}/scorecards?unit={unit}&period={month}", headers=h)
        assert r.status_code == 200, r.get_data(as_text=True)
        items = [i for p in r.get_json()["parts"] for i in p["items"]]
        return next(i for i in items if i["item"] == "technology_demands")["basis"]

    assert wait_for(lambda: collected("cd-key-1").get("tech_collected") == 1)

    # a transfer to a person of another unit is a 422 naming the field
    body = {"to_staff_id": "staff-003", "reason": "调岗"}  # 西宁市 科技人才科
    r = c.post(f"{D}/staff/cd-key-1/transfer", json=body, headers=admin)
    assert r.status_code == 422 and "to_staff_id" in r.get_json()["error"]["fields"]["json"]
    r = c.post(f"{D}/staff/cd-key-1/transfer", json={"reason": "x"}, headers=h)
    assert r.status_code == 422 and "to_staff_id" in r.get_json()["error"]["fields"]["json"]
    # the person leaves: their enterprise and their open demand move to a colleague
    body = {"to_staff_id": "cd-key-2", "reason": "刘洋调离"}
    r = c.post(f"{D}/staff/cd-key-1/transfer", json=body, headers=h)
    assert r.status_code == 200, r.get_data(as_text=True)
    moved = r.get_json()
    assert moved["enterprises"] == [KEY] and len(moved["assignments"]) == 1
    got = link(c, h, KEY)
    assert got["link"]["staff_id"] == "cd-key-2" and "刘洋调离" in got["link"]["reason"]
    assert [v["staff_id"] for v in got["history"]] == [None, "cd-key-1", "cd-key-2"]
    assert all(v["until"] for v in got["history"][:-1]) and got["history"][-1]["until"] is None
    want = {("department", "cd-key"): "rule:key", ("staff", "cd-key-2"): "rule:key"}
    assert wait_for(lambda: standing(c, h, KEY) == want)
    assert wait_for(
        lambda: c.get(f"{IN}/demands/{number}", headers=h).get_json()["owner"]["id"] == "cd-key-2"
    )
    old = c.get(f"{D}/assignments?demand_code={number}&kind=owner", headers=h).get_json()["items"]
    assert sorted(a["status"] for a in old) == ["open", "reassigned"]
    # a later demand follows the new person
    _, owner = demand(c, h, KEY, "funding")
    assert owner["id"] == "cd-key-2"
    # scoring: the facts before the transfer stay the old person's; the new one did not
    # collect the moved demand (and the screening after the transfer counts for them)
    r = c.patch(
        f"{IN}/demands/{number}/screening",
        json={"complexity": "general", "urgency": "high", "feasibility": "high"},
        headers=h,
    )
    assert r.status_code == 200, r.get_data(as_text=True)
    assert wait_for(lambda: collected("cd-key-2").get("tech_analysed") == 1)
    assert collected("cd-key-1").get("tech_collected") == 1
    assert not collected("cd-key-1").get("tech_analysed")
    assert not collected("cd-key-2").get("tech_collected")
