"""The directory over HTTP (embedded shape): onboarding a park and its administrator, keys
reaching every service through the events, a retired unit taking no filings, a key made on
the command line while the platform runs."""

from __future__ import annotations

import pytest
from click.testing import CliRunner
from werkzeug.test import Client

from onestop.cli import main
from tests.e2e.support import auth
from tests.factories import DEMO_DEMAND
from tests.support import wait_for

pytestmark = pytest.mark.e2e
API = "/directory/api/v1"


def bearer(key):
    return {"Authorization": f"Bearer {key}"}


def test_a_parent_opens_a_unit_and_its_administrator_opens_the_units_below(platform):
    c = Client(platform.wsgi)
    province = auth(platform, "admin")
    r = c.post(
        f"{API}/units",
        json={"parent": "630103", "kind": "park", "name": "城中园"},
        headers=province,
    )
    assert r.status_code == 201, r.get_json()
    park = r.get_json()
    assert park["code"] == "630103-P0001" and park["path"][-2:] == ["630103", "630103-P0001"]
    r = c.post(
        f"{API}/keys",
        json={"name": "园区管理员", "role": "admin", "jurisdiction": park["code"]},
        headers=province,
    )
    assert r.status_code == 201
    issued = r.get_json()
    assert issued["key"].startswith("osk_") and "secret_sha256" not in issued
    park_admin = bearer(issued["key"])
    # every service learns the key from the directory's events
    for svc in ("directory", "intake", "dispatch", "visits", "scoring", "archive"):
        wait_for(
            lambda s=svc: c.get(f"/{s}/api/v1/dead-letters", headers=province).status_code == 200
        )
    wait_for(lambda: c.get("/intake/api/v1/demands", headers=park_admin).status_code != 401)
    r = c.post(
        f"{API}/units",
        json={"parent": park["code"], "kind": "workstation", "name": "园区工作站"},
        headers=park_admin,
    )
    assert r.status_code == 201 and r.get_json()["code"] == "630103-P0001-W0001"
    # not beside itself, not its own unit, not an administrator for itself
    r = c.post(
        f"{API}/units", json={"parent": "630102", "kind": "park", "name": "x"}, headers=park_admin
    )
    assert r.status_code == 403
    assert (
        c.patch(f"{API}/units/{park['code']}", json={"name": "x"}, headers=park_admin).status_code
        == 403
    )
    r = c.post(
        f"{API}/keys",
        json={"name": "x", "role": "admin", "jurisdiction": park["code"]},
        headers=park_admin,
    )
    assert r.status_code == 403
    within = c.get(f"{API}/units?within={park['code']}", headers=park_admin).get_json()["items"]
    assert [u["code"] for u in within] == ["630103-P0001", "630103-P0001-W0001"]
    # revoked: refused everywhere once told
    key_id = issued["key_id"]
    assert c.delete(f"{API}/keys/{key_id}", headers=province).status_code == 200
    wait_for(
        lambda: c.get("/intake/api/v1/demands", headers=park_admin).status_code == 401, timeout=40
    )


def test_a_retired_unit_takes_no_new_filings_and_names_its_successor(platform):
    c = Client(platform.wsgi)
    province = auth(platform, "admin")
    r = c.patch(
        f"{API}/units/630105", json={"retire": True, "successor": "630104"}, headers=province
    )
    assert r.status_code == 200 and r.get_json()["retired"]
    assert [ch["kind"] for ch in r.get_json()["changes"]] == ["opened", "retired"]

    def refused():
        there = {"credit_code": "91630105MA7NHP6Q1L", "name": "西宁藏药生物科技有限公司"}
        body = {**DEMO_DEMAND, "enterprise": there, "jurisdiction": "630105"}
        r = c.post("/intake/api/v1/demands", json=body, headers=province)
        return r.status_code == 422 and r.get_json()

    body = wait_for(refused)
    assert "630104" in body["error"]["fields"]["json"]["jurisdiction"][0]
    retired = c.get(f"{API}/units?parent=630100&include_retired=true", headers=province).get_json()
    assert {u["code"]: u["retired"] for u in retired["items"]}["630105"] is True


def test_bad_input_gets_field_level_4xx(platform):
    c = Client(platform.wsgi)
    province = auth(platform, "admin")
    cases = [
        ({"parent": "63010", "kind": "park", "name": "x"}, "parent"),
        ({"parent": "630103", "kind": "palace", "name": "x"}, "kind"),
        ({"parent": "630103", "kind": "township", "name": "x", "code": "630104001"}, "code"),
        ({"parent": "630199", "kind": "park", "name": "x"}, "parent"),
    ]
    for body, field in cases:
        r = c.post(f"{API}/units", json=body, headers=province)
        assert r.status_code == 422 and field in r.get_json()["error"]["fields"]["json"], (
            body,
            r.get_json(),
        )
    r = c.post(
        f"{API}/keys",
        json={"name": "x", "role": "district", "jurisdiction": "630199"},
        headers=province,
    )
    assert r.status_code == 422
    assert (
        c.post(
            f"{API}/keys",
            json={"name": "x", "role": "staff", "jurisdiction": "630102"},
            headers=auth(platform, "district"),
        ).status_code
        == 403
    )
    assert c.get(f"{API}/units/630199", headers=province).status_code == 404
    r = c.post(
        f"{API}/divisions/import",
        data={
            "file": (__import__("io").BytesIO(b"code,name,level,parent\n63,x,province,\n"), "d.csv")
        },
        headers=province,
        content_type="multipart/form-data",
    )
    assert r.status_code == 422 and "line 2" in r.get_json()["error"]["fields"]["file"]


def test_a_key_made_on_the_command_line_reaches_the_running_platform(platform, monkeypatch):
    monkeypatch.setenv("ONESTOP_DATA_DIR", str(platform.settings.data_dir))
    monkeypatch.setenv("ONESTOP_BROKER_URL", platform.settings.broker_url)
    r = CliRunner().invoke(
        main,
        [
            "apikey",
            "create",
            "--role",
            "district",
            "--jurisdiction",
            "630104",
            "--name",
            "城西区系统",
        ],
    )
    assert r.exit_code == 0, r.output
    c = Client(platform.wsgi)
    wait_for(
        lambda: c.get("/visits/api/v1/visits", headers=bearer(r.output.strip())).status_code == 200
    )
