"""An enterprise serves itself over the API (embedded shape): it files its own demands
(including 企业点单), follows them with their progress notes, rates them once closed, grants
or withdraws its consent — and sees nothing else."""

from __future__ import annotations

import pytest
from werkzeug.test import Client

from tests.e2e.support import auth
from tests.factories import DEMO_DEMAND
from tests.support import wait_for

pytestmark = pytest.mark.e2e
INTAKE = "/intake/api/v1"
OTHER = {"credit_code": "91630103MA75A3KX7N", "name": "西宁光伏装备制造有限公司"}


def enterprise_session(c, platform):
    person = platform.creds["people"]["qiye.gaoyuan"]
    r = c.post(
        "/directory/api/v1/sessions",
        json={"username": "qiye.gaoyuan", "password": person["password"]},
    )
    assert r.status_code == 201, r.get_json()
    return {"Authorization": f"Bearer {r.get_json()['access_token']}"}


def test_an_enterprise_files_follows_rates_and_consents_for_itself_only(platform):
    c = Client(platform.wsgi)
    me, office = enterprise_session(c, platform), auth(platform, "district")
    # its own demand, an order for a patent service (企业点单), without consent at first
    ordered = {
        **DEMO_DEMAND,
        "category": "ip",
        "service_item": "ip_filing",
        "source": "order",
        "consent_to_share": False,
    }
    r = c.post(f"{INTAKE}/demands", json=ordered, headers=me)
    assert r.status_code == 201, r.get_json()
    code = r.get_json()["code"]
    assert code.startswith("630102-")
    # another enterprise's demand, filed by the office: not the enterprise's business
    other = c.post(
        f"{INTAKE}/demands",
        json={**DEMO_DEMAND, "enterprise": OTHER},
        headers=auth(platform, "admin"),
    )
    assert other.status_code == 201
    assert c.get(f"{INTAKE}/demands/{other.get_json()['code']}", headers=me).status_code == 404
    assert [d["code"] for d in c.get(f"{INTAKE}/demands", headers=me).get_json()["items"]] == [code]
    r = c.post(f"{INTAKE}/demands", json={**DEMO_DEMAND, "enterprise": OTHER}, headers=me)
    assert r.status_code == 403
    r = c.post(f"{INTAKE}/demands", json={**DEMO_DEMAND, "source": "window"}, headers=me)
    assert r.status_code == 422 and "source" in r.get_json()["error"]["fields"]["json"]
    # the office works it; the enterprise follows the steps and their notes
    wait_for(lambda: c.get(f"{INTAKE}/demands/{code}", headers=office).get_json()["owner"])
    for to in ("in_progress", "feedback"):
        step = {"to": to, "note": f"进展：{to}"}
        assert (
            c.post(f"{INTAKE}/demands/{code}/transitions", json=step, headers=office).status_code
            == 200
        )
    assert (
        c.post(
            f"{INTAKE}/demands/{code}/transitions", json={"to": "closed", "note": "x"}, headers=me
        ).status_code
        == 403
    )
    notes = [
        u["note"] for u in c.get(f"{INTAKE}/demands/{code}/updates", headers=me).get_json()["items"]
    ]
    assert "进展：in_progress" in notes and "进展：feedback" in notes
    # consent: the agency handling the demand reads its content either way (XN 保密); its
    # order records whether the enterprise consents to share it beyond the handling parties
    agency = auth(platform, "agency")

    def order_details():
        items = c.get(
            f"/dispatch/api/v1/assignments?demand_code={code}&kind=agency", headers=office
        ).get_json()["items"]
        if not items:
            return None
        detail = c.get(f"/dispatch/api/v1/assignments/{items[0]['id']}", headers=agency).get_json()
        return detail

    first = wait_for(order_details)
    assert first["details"]["title"] == DEMO_DEMAND["title"] and not first["consent_to_share"]
    r = c.put(f"{INTAKE}/demands/{code}/consent", json={"consent_to_share": True}, headers=me)
    assert r.status_code == 200 and r.get_json()["consent_to_share"] is True
    wait_for(lambda: (d := order_details()) and d["consent_to_share"])
    assert (
        c.put(
            f"{INTAKE}/demands/{code}/consent", json={"consent_to_share": True}, headers=me
        ).status_code
        == 409
    )
    c.put(f"{INTAKE}/demands/{code}/consent", json={"consent_to_share": False}, headers=me)
    after = wait_for(lambda: (d := order_details()) and not d["consent_to_share"] and d)
    assert after["details"]["title"] == DEMO_DEMAND["title"]  # still the handling agency's
    # closed by the office, rated by the enterprise itself, once
    closing = {"to": "closed", "note": "已解决", "resolution": "solved"}
    assert (
        c.post(f"{INTAKE}/demands/{code}/transitions", json=closing, headers=office).status_code
        == 200
    )
    r = c.post(
        f"{INTAKE}/demands/{code}/revisit", json={"rating": 5, "comment": "很满意"}, headers=me
    )
    assert r.status_code == 200 and r.get_json()["satisfaction"]["rating"] == 5
    # the rest of the platform is not the enterprise's
    for path in (
        "/visits/api/v1/visits",
        "/scoring/api/v1/kpis",
        "/dispatch/api/v1/assignments",
        f"{INTAKE}/enterprises",
    ):
        assert c.get(path, headers=me).status_code == 403, path


def test_an_enterprise_registers_and_acts_for_itself_once_its_office_confirms(platform):
    """企业用户注册: the account signs in at once and sees nothing; the office of its unit
    confirms; the next token carries the enterprise, and every service takes it."""
    c = Client(platform.wsgi)
    new = {
        "person_id": "guangfu.wang",
        "name": "王光伏",
        "unit": "630103",
        "password": "Guangfu-Qiye-2026",
        "credit_code": OTHER["credit_code"],
    }
    r = c.post("/directory/api/v1/registrations", json={**new, "credit_code": "9163"})
    assert r.status_code == 422 and "credit_code" in r.get_json()["error"]["fields"]["json"]
    r = c.post("/directory/api/v1/registrations", json=new)
    assert r.status_code == 201, r.get_json()
    request_id = r.get_json()["request"]["request_id"]
    r = c.post(
        "/directory/api/v1/sessions",
        json={"username": new["person_id"], "password": new["password"]},
    )
    session = r.get_json()
    me = {"Authorization": f"Bearer {session['access_token']}"}
    assert c.get(f"{INTAKE}/demands", headers=me).get_json()["items"] == []
    r = c.post(f"{INTAKE}/demands", json={**DEMO_DEMAND, "enterprise": OTHER}, headers=me)
    assert r.status_code == 403
    # the office of another county neither sees nor decides it; 630103's district does
    elsewhere = auth(platform, "district")  # 630102
    mine = c.get("/directory/api/v1/enterprise-requests", headers=elsewhere).get_json()["items"]
    assert request_id not in [x["request_id"] for x in mine]
    decision = {"confirm": True, "note": "营业执照已核验"}
    url = f"/directory/api/v1/enterprise-requests/{request_id}/decision"
    assert c.post(url, json=decision, headers=elsewhere).status_code == 404
    assert c.post(url, json=decision, headers=me).status_code == 404  # not its own
    r = c.post(url, json=decision, headers=auth(platform, "admin"))
    assert r.status_code == 200, r.get_json()
    assert r.get_json()["decided_as"] == "office"
    # its old token names no enterprise: refused once the services know; a refresh carries it
    wait_for(lambda: c.get(f"{INTAKE}/demands", headers=me).status_code == 401)
    r = c.post(
        "/directory/api/v1/sessions/refresh", json={"refresh_token": session["refresh_token"]}
    )
    assert r.status_code == 200 and r.get_json()["person"]["credit_codes"] == [OTHER["credit_code"]]
    me = {"Authorization": f"Bearer {r.get_json()['access_token']}"}
    r = c.post(f"{INTAKE}/demands", json={**DEMO_DEMAND, "enterprise": OTHER}, headers=me)
    assert r.status_code == 201, r.get_json()
