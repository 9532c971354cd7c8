"""People over HTTP (embedded shape): a person signs in at the directory and every service
accepts the token, verified from its own copy of the signing keys; the person is the
actor of what they do; administrators need their second factor; sessions refresh and end."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from werkzeug.test import Client

from services.directory import totp
from tests.e2e.support import auth, ready, trace, visit_body
from tests.factories import DEMO_DEMAND
from tests.support import wait_for

pytestmark = pytest.mark.e2e
API = "/directory/api/v1"


def sign_in(c, person_id, password, code=None):
    body = {"username": person_id, "password": password}
    if code:
        body["totp"] = code
    return c.post(f"{API}/sessions", json=body)


def bearer(session):
    return {"Authorization": f"Bearer {session['access_token']}"}


def test_a_person_signs_in_once_and_is_the_actor_everywhere(platform):
    c = Client(platform.wsgi)
    people = platform.creds["people"]
    r = sign_in(c, "chen.jing", people["chen.jing"]["password"])
    assert r.status_code == 201, r.get_json()
    session = r.get_json()
    assert session["person"]["api_role"] == "staff" and session["person"]["unit"] == "630102"
    h = bearer(session)
    for svc in ("directory", "intake", "dispatch", "visits", "scoring", "archive"):
        me = c.get(f"/{svc}/api/v1/dead-letters", headers=h)
        assert me.status_code == 403, (svc, me.get_json())  # known, and not a province admin
    assert c.get(f"{API}/me", headers=h).get_json()["subject"] == "person:chen.jing"
    r = c.post("/intake/api/v1/demands", json=DEMO_DEMAND, headers=h)
    assert r.status_code == 201, r.get_json()
    events = wait_for(lambda: (ev := trace(c, h, r.get_json()["code"])) and len(ev) >= 2 and ev)
    assert events[0]["payload"]["accepted_by"] == "person:chen.jing"
    # the envelope names who acted, and on whose behalf a service acted after
    assert events[0]["actor"] == {"id": "person:chen.jing", "on_behalf_of": None}
    assert events[1]["actor"] == {"id": "service:dispatch", "on_behalf_of": "person:chen.jing"}
    assert c.get("/directory/.well-known/jwks.json").get_json()["keys"]


def test_every_failure_is_the_same_401_and_the_trail_is_archived(platform):
    c = Client(platform.wsgi)
    for username, password in (("chen.jing", "wrong-Password-1"), ("nobody", "x")):
        r = sign_in(c, username, password)
        assert r.status_code == 401
        assert r.get_json()["error"]["message"] == "Wrong log-in name or password."
    auditor = platform.creds["people"]["audit.admin"]
    code = totp.code_at(auditor["second_factor_secret"], datetime.now(UTC))
    session = sign_in(c, "audit.admin", auditor["password"], code).get_json()
    h = bearer(session)
    # the auditor reads no business data
    assert c.get("/intake/api/v1/demands", headers=h).status_code == 403

    def refusals():
        admin = {"Authorization": f"Bearer {platform.creds['admin']['key']}"}
        now = datetime.now(UTC)
        query = {
            "type": "person.sign_in_refused",
            "producer": "directory",
            "from": (now - timedelta(hours=1)).isoformat(),
            "to": (now + timedelta(hours=1)).isoformat(),
        }
        r = c.get("/archive/api/v1/events", query_string=query, headers=admin)
        return r.status_code == 200 and r.get_json()["items"]

    assert wait_for(refusals)[0]["payload"]["reason"] == "wrong password"

    def access_refused():  # the auditor's 403 at intake is in the trail too
        now = datetime.now(UTC)
        query = {
            "type": "access.refused",
            "from": (now - timedelta(hours=1)).isoformat(),
            "to": (now + timedelta(hours=1)).isoformat(),
        }
        admin = {"Authorization": f"Bearer {platform.creds['admin']['key']}"}
        r = c.get("/archive/api/v1/events", query_string=query, headers=admin)
        return r.status_code == 200 and r.get_json()["items"]

    refused = wait_for(access_refused)[0]
    assert refused["payload"]["actor"] == "person:audit.admin"
    assert (refused["producer"], refused["payload"]["path"]) == ("intake", "/api/v1/demands")


def test_administrators_need_their_second_factor_and_manage_accounts_apart(platform):
    c = Client(platform.wsgi)
    people = platform.creds["people"]
    sec = people["sec.admin"]
    assert sign_in(c, "sec.admin", sec["password"]).status_code == 401
    code = totp.code_at(sec["second_factor_secret"], datetime.now(UTC))
    session = sign_in(c, "sec.admin", sec["password"], code).get_json()
    h = bearer(session)
    new = {
        "person_id": "wang.fang",
        "name": "王芳",
        "unit": "630103",
        "roles": ["office_staff"],
        "password": "Xining-Staff-2026",
    }
    r = c.post(f"{API}/people", json={**new, "password": "short"}, headers=h)
    assert r.status_code == 422 and r.get_json()["error"]["fields"]["json"]["password"]
    assert c.post(f"{API}/people", json=new, headers=h).status_code == 201
    assert c.post(f"{API}/people", json=new, headers=h).status_code == 409
    sysadmin = people["sys.admin"]
    code = totp.code_at(sysadmin["second_factor_secret"], datetime.now(UTC))
    sys_h = bearer(sign_in(c, "sys.admin", sysadmin["password"], code).get_json())
    assert (
        c.post(f"{API}/people", json={**new, "person_id": "x.y"}, headers=sys_h).status_code == 403
    )
    assert sign_in(c, "wang.fang", new["password"]).status_code == 201


def test_a_session_refreshes_and_ends_and_a_forged_token_is_refused(platform):
    c = Client(platform.wsgi)
    person = platform.creds["people"]["tepai.li"]
    session = sign_in(c, "tepai.li", person["password"]).get_json()
    r = c.post(f"{API}/sessions/refresh", json={"refresh_token": session["refresh_token"]})
    assert r.status_code == 200
    renewed = r.get_json()
    assert c.get("/visits/api/v1/visits", headers=bearer(renewed)).status_code == 200
    again = c.post(f"{API}/sessions/refresh", json={"refresh_token": session["refresh_token"]})
    assert again.status_code == 401  # the first refresh token is spent
    assert (
        c.delete(f"{API}/sessions/{renewed['session_id']}", headers=bearer(renewed)).status_code
        == 204
    )
    r = c.post(f"{API}/sessions/refresh", json={"refresh_token": renewed["refresh_token"]})
    assert r.status_code == 401
    head, body, sig = renewed["access_token"].split(".")
    forged = {"Authorization": f"Bearer {head}.{body}.{sig[:-4]}AAAA"}
    r = c.get("/intake/api/v1/demands", headers=forged)
    assert r.status_code == 401 and "bad signature" in r.get_json()["error"]["message"]


def test_a_visit_is_credited_to_the_person_who_logs_it(platform):
    c = Client(platform.wsgi)
    ready(c, auth(platform, "district"))
    people = platform.creds["people"]
    h = bearer(sign_in(c, "chen.jing", people["chen.jing"]["password"]).get_json())
    mine = {k: v for k, v in visit_body().items() if k != "staff_id"}
    r = c.post("/visits/api/v1/visits", json=mine, headers=h)
    assert r.status_code == 201, r.get_json()
    assert (r.get_json()["staff_id"], r.get_json()["logged_by"]) == (
        "staff-005",
        "person:chen.jing",
    )
    r = c.post("/visits/api/v1/visits", json=visit_body(staff_id="staff-002"), headers=h)
    assert r.status_code == 403 and r.get_json()["error"]["fields"]["json"]["staff_id"]


def test_a_disabled_or_changed_account_s_token_is_refused_by_every_service(platform):
    """The services copy accounts from ``person.*``: a token outlives neither its account
    nor its roles — refused with a 401 that says why, before the token expires."""
    c = Client(platform.wsgi)
    sec = platform.creds["people"]["sec.admin"]
    code = totp.code_at(sec["second_factor_secret"], datetime.now(UTC))
    admin = bearer(sign_in(c, "sec.admin", sec["password"], code).get_json())
    new = {
        "person_id": "zhao.lei",
        "name": "赵磊",
        "unit": "630102",
        "roles": ["office_staff"],
        "password": "Chengdong-Staff-2026",
    }
    assert c.post(f"{API}/people", json=new, headers=admin).status_code == 201
    h = bearer(sign_in(c, "zhao.lei", new["password"]).get_json())
    assert c.get("/intake/api/v1/demands", headers=h).status_code == 200
    body = {"roles": ["commissioner"]}
    r = c.put(f"{API}/people/zhao.lei/roles", json=body, headers=admin)
    assert r.status_code == 200, r.get_json()

    def refused(svc, path, why):
        r = c.get(f"/{svc}/api/v1/{path}", headers=h)
        return r.status_code == 401 and why in r.get_json()["error"]["message"]

    for svc, path in (("intake", "demands"), ("visits", "visits"), ("directory", "me")):
        assert wait_for(lambda s=svc, p=path: refused(s, p, "refresh it")), svc
    session = sign_in(c, "zhao.lei", new["password"]).get_json()
    h = bearer(session)
    assert session["person"]["roles"] == ["commissioner"]
    assert c.get("/visits/api/v1/visits", headers=h).status_code == 200
    r = c.post(f"{API}/people/zhao.lei/disable", headers=admin)
    assert r.status_code == 200, r.get_json()
    for svc, path in (("intake", "demands"), ("visits", "visits"), ("directory", "me")):
        assert wait_for(lambda s=svc, p=path: refused(s, p, "disabled account")), svc
    r = c.post(f"{API}/sessions/refresh", json={"refresh_token": session["refresh_token"]})
    assert r.status_code == 401
    assert c.post(f"{API}/people/zhao.lei/enable", headers=admin).status_code == 200
    assert wait_for(lambda: c.get("/visits/api/v1/visits", headers=h).status_code == 200)
