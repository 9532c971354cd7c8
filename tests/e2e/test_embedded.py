"""The thread through all five services in the embedded shape (SQLite + in-process broker)."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
from pathlib import Path

import pytest
import requests
from werkzeug.test import Client

from shared import migrate
from shared.cli import seed_demo
from shared.embedded import Platform
from shared.localservers import free_port, wait_port
from tests.conftest import DEMO_DEMAND, read_credentials, wait_for

pytestmark = pytest.mark.e2e
CODE_RE = re.compile(r"^630102-\d{4}-\d{6}$")


@pytest.fixture
def platform(embedded_settings):
    migrate.upgrade(embedded_settings)
    creds = seed_demo(embedded_settings)
    p = Platform(embedded_settings)
    p.start()
    p.creds = creds
    yield p
    p.stop()


def auth(p, role):
    return {"Authorization": f"Bearer {p.creds[role]['key']}"}


def trace(client, headers, code):
    r = client.get(f"/archive/api/v1/trace/{code}", headers=headers)
    return r.get_json()["events"] if r.status_code == 200 else []


def test_demand_flows_through_every_service(platform):
    c = Client(platform.wsgi)
    h = auth(platform, "district")
    r = c.post(
        "/intake/api/v1/demands", json=DEMO_DEMAND, headers={**h, "X-Correlation-ID": "corr-e2e-1"}
    )
    assert r.status_code == 201, r.get_data(as_text=True)
    code = r.get_json()["code"]
    assert CODE_RE.match(code)
    events = wait_for(lambda: (ev := trace(c, h, code)) and len(ev) >= 2 and ev, timeout=2)
    assert [e["event_type"] for e in events] == ["demand.accepted", "assignment.made"]
    assert {e["correlation_id"] for e in events} == {"corr-e2e-1"}
    assert events[1]["payload"]["assignee_id"] == "cd-kjj"
    for e in events:
        assert set(e) >= {"event_id", "event_version", "occurred_at", "producer", "jurisdiction"}
    # every consumer applied it
    demand = wait_for(
        lambda: (
            c.get(f"/intake/api/v1/demands/{code}", headers=h).get_json()
            if c.get(f"/intake/api/v1/demands/{code}", headers=h).get_json()["owner"]
            else None
        )
    )
    assert demand["owner"]["id"] == "cd-kjj"
    links = wait_for(lambda: c.get("/visits/api/v1/links", headers=h).get_json()["items"])
    assert links[0]["enterprise_credit_code"] == DEMO_DEMAND["enterprise"]["credit_code"]
    period = events[1]["payload"]["assigned_at"][:7]
    tallies = c.get(f"/scoring/api/v1/tallies?period={period}", headers=h).get_json()["items"]
    assert (
        tallies[0]["item"] == "technology_demands"
        and tallies[0]["records"][0]["demand_code"] == code
    )
    a = c.get(f"/dispatch/api/v1/assignments?demand_code={code}", headers=h).get_json()
    assert a["items"][0]["reason"].startswith("default responsible department")


def test_codes_are_unique_and_sequential(platform):
    c = Client(platform.wsgi)
    h = auth(platform, "district")
    codes = [
        c.post("/intake/api/v1/demands", json=DEMO_DEMAND, headers=h).get_json()["code"]
        for _ in range(3)
    ]
    seqs = [int(x.rsplit("-", 1)[1]) for x in codes]
    assert seqs == sorted(seqs) and len(set(codes)) == 3 and seqs[1] == seqs[0] + 1


def test_errors_share_one_format(platform):
    c = Client(platform.wsgi)
    r = c.post("/intake/api/v1/demands", json=DEMO_DEMAND)
    assert r.status_code == 401
    assert r.get_json()["error"]["code"] == "unauthenticated"
    r = c.post(
        "/intake/api/v1/demands",
        json=DEMO_DEMAND,
        headers={"Authorization": "Bearer osk_nope_nope"},
    )
    assert r.status_code == 401
    h = auth(platform, "district")
    bad = {
        **DEMO_DEMAND,
        "enterprise": {"credit_code": "91630102MA7522T5X7", "name": "x"},
        "category": "astrology",
    }
    del bad["title"]
    r = c.post("/intake/api/v1/demands", json=bad, headers=h)
    assert r.status_code == 422
    err = r.get_json()["error"]
    assert err["code"] == "validation_failed"
    fields = err["fields"]["json"]
    assert "check character" in fields["enterprise"]["credit_code"][0]
    assert "title" in fields and "category" in fields
    r = c.post(
        "/intake/api/v1/demands", data="{", headers={**h, "Content-Type": "application/json"}
    )
    assert r.status_code in (400, 422) and "error" in r.get_json()
    r = c.post("/intake/api/v1/demands", json={**DEMO_DEMAND, "jurisdiction": "630103"}, headers=h)
    assert r.status_code == 403 and r.get_json()["error"]["code"] == "forbidden"
    r = c.post("/intake/api/v1/demands", json=DEMO_DEMAND, headers=auth(platform, "agency"))
    assert r.status_code == 403
    r = c.get("/intake/api/v1/demands/630102-2026-999999", headers=h)
    assert r.status_code == 404 and r.get_json()["error"]["code"] == "not_found"
    assert c.get("/nowhere").status_code == 404


def test_jurisdictions_see_only_their_subtree(platform):
    c = Client(platform.wsgi)
    staff = auth(platform, "staff")  # city 630100
    r = c.post(
        "/intake/api/v1/demands", json={**DEMO_DEMAND, "jurisdiction": "630103"}, headers=staff
    )
    assert r.status_code == 201
    code = r.get_json()["code"]
    assert code.startswith("630103-")
    wait_for(lambda: len(trace(c, staff, code)) >= 2)
    district = auth(platform, "district")  # 城东区 630102, a sibling
    assert c.get(f"/intake/api/v1/demands/{code}", headers=district).status_code == 404
    assert c.get(f"/archive/api/v1/trace/{code}", headers=district).status_code == 404
    listed = c.get("/intake/api/v1/demands", headers=district).get_json()["items"]
    assert code not in {d["code"] for d in listed}
    agency = c.get("/dispatch/api/v1/assignments", headers=auth(platform, "agency")).get_json()
    assert agency["items"] == []  # owner assignments are not an agency's business
    # no consent, no dispatch to it: an agency reads no demand details
    assert c.get("/intake/api/v1/demands", headers=auth(platform, "agency")).status_code == 403
    r = c.get(f"/intake/api/v1/demands/{code}", headers=auth(platform, "agency"))
    assert r.status_code == 403


def test_health_readiness_metrics_and_openapi(platform):
    c = Client(platform.wsgi)
    for svc in ("intake", "dispatch", "visits", "scoring", "archive"):
        assert c.get(f"/{svc}/healthz").status_code == 200
        r = c.get(f"/{svc}/readyz")
        assert r.status_code == 200 and r.get_json()["checks"]["database"] == "ok"
        assert "paths" in c.get(f"/{svc}/openapi.json").get_json()
    c.post("/intake/api/v1/demands", json=DEMO_DEMAND, headers=auth(platform, "district"))
    text = c.get("/intake/metrics").get_data(as_text=True)
    assert 'onestop_http_requests_total{endpoint="/api/v1/demands/",method="POST"' in text or (
        "onestop_http_requests_total" in text and 'service="intake"' in text
    )
    wait_for(lambda: 'outcome="applied"' in c.get("/archive/metrics").get_data(as_text=True))


def _embedded_process(tmp_path: Path):
    port = free_port()
    env = {**os.environ, "ONESTOP_DATA_DIR": str(tmp_path / "var"), "PORT": str(port)}
    root = Path(__file__).resolve().parents[2]

    def start():
        p = subprocess.Popen(
            [sys.executable, "-m", "shared.cli", "run"],
            env=env,
            cwd=root,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        wait_port(port, 60, p)
        return p

    return port, start


def test_graceful_restart_loses_nothing_and_keeps_keys(tmp_path: Path):
    port, start = _embedded_process(tmp_path)
    proc = start()
    creds = read_credentials(tmp_path / "var")
    h = {"Authorization": f"Bearer {creds['district']['key']}"}
    base = f"http://127.0.0.1:{port}"
    codes = [
        requests.post(
            f"{base}/intake/api/v1/demands", json=DEMO_DEMAND, headers=h, timeout=10
        ).json()["code"]
        for _ in range(15)
    ]
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(60) == 0
    state = json.loads((tmp_path / "var" / "embedded-state.json").read_text())
    assert state["clean"] is True
    proc = start()
    try:
        assert read_credentials(tmp_path / "var") == creds
        for code in codes:
            events = wait_for(
                lambda code=code: (
                    requests.get(f"{base}/archive/api/v1/trace/{code}", headers=h, timeout=10)
                    .json()
                    .get("events")
                ),
                timeout=10,
            )
            assert [e["event_type"] for e in events] == ["demand.accepted", "assignment.made"]
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(60)


@pytest.mark.fault
def test_crash_of_the_embedded_process_loses_no_accepted_demand(tmp_path: Path):
    """SIGKILL while events are in the in-process broker: the next start re-publishes."""
    port, start = _embedded_process(tmp_path)
    proc = start()
    h = {"Authorization": f"Bearer {read_credentials(tmp_path / 'var')['district']['key']}"}
    base = f"http://127.0.0.1:{port}"
    codes = [
        requests.post(
            f"{base}/intake/api/v1/demands", json=DEMO_DEMAND, headers=h, timeout=10
        ).json()["code"]
        for _ in range(10)
    ]
    proc.kill()
    proc.wait(10)
    assert json.loads((tmp_path / "var" / "embedded-state.json").read_text())["clean"] is False
    proc = start()
    try:
        for code in codes:
            events = wait_for(
                lambda code=code: (
                    requests.get(f"{base}/archive/api/v1/trace/{code}", headers=h, timeout=10)
                    .json()
                    .get("events")
                ),
                timeout=10,
            )
            wait_for(
                lambda code=code: (
                    len(
                        requests.get(
                            f"{base}/archive/api/v1/trace/{code}", headers=h, timeout=10
                        ).json()["events"]
                    )
                    == 2
                ),
                timeout=10,
            )
            assert events[0]["event_type"] == "demand.accepted"
        r = requests.get(f"{base}/dispatch/api/v1/assignments?limit=500", headers=h, timeout=10)
        per_demand = [a["demand_code"] for a in r.json()["items"]]
        assert sorted(per_demand) == sorted(codes)  # each applied exactly once
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(60)
