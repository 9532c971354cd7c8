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

from onestop.localservers import free_port, wait_port
from tests.e2e.support import auth, trace
from tests.factories import DEMO_DEMAND
from tests.support import read_credentials, wait_for

pytestmark = pytest.mark.e2e
CODE_RE = re.compile(r"^630102-\d{4}-\d{6}$")


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


def test_hostile_input_gets_a_4xx_never_a_500(platform):
    c = Client(platform.wsgi)
    h = auth(platform, "district")
    nul = {**DEMO_DEMAND, "title": "bad\u0000title"}
    r = c.post("/intake/api/v1/demands", json=nul, headers=h)
    assert r.status_code == 422 and "json" in r.get_json()["error"]["fields"]
    assert c.get("/intake/api/v1/demands/x%00y", headers=h).status_code == 422
    assert c.get("/intake/api/v1/demands?status=%00", headers=h).status_code == 422
    r = c.get("/intake/api/v1/demands?stauts=accepted", headers=h)  # a typo is an error
    assert r.status_code == 422 and "stauts" in r.get_json()["error"]["fields"]["query"]
    assert c.get("/intake/api/v1/demands?limit=9999999999999", headers=h).status_code == 422
    r = c.post(
        "/intake/api/v1/demands",
        data=b"\xff\xfe",
        headers={**h, "Content-Type": "application/json"},
    )
    assert 400 <= r.status_code < 500
    r = c.post("/intake/api/v1/demands", json={**DEMO_DEMAND, "title": 5}, headers=h)
    assert r.status_code == 422
    r = c.post("/intake/api/v1/demands", json=[1, 2], headers=h)
    assert r.status_code == 422


def test_a_hostile_correlation_id_is_replaced_not_propagated(platform):
    c = Client(platform.wsgi)
    h = auth(platform, "district")
    r = c.post(
        "/intake/api/v1/demands", json=DEMO_DEMAND, headers={**h, "X-Correlation-ID": "x" * 150}
    )
    assert r.status_code == 201
    cid = r.headers["X-Correlation-ID"]
    assert len(cid) == 36 and cid != "x" * 150
    events = wait_for(lambda: (ev := trace(c, h, r.get_json()["code"])) and len(ev) >= 2 and ev)
    assert {e["correlation_id"] for e in events} == {cid}


def test_poison_in_the_embedded_broker_is_kept_in_the_database(platform):
    from sqlalchemy import select

    from shared.messaging import KombuPublisher, exchange_for

    pub = KombuPublisher(platform.settings.broker_url)
    pub.publish(exchange_for("intake"), "demand.accepted.630000.630100.630102", '{"x": 1}', {})
    pub.close()
    dispatch = platform.services["dispatch"]
    table = dispatch.db.metadata.tables["dead_letters"]

    def rows():
        with dispatch.db.session() as s:
            return s.execute(select(table)).mappings().all()

    [row] = wait_for(rows)
    assert row["queue"] == "dispatch.on_demand_accepted"
    assert "invalid event" in row["reason"] and row["body"] == '{"x": 1}'


def test_jurisdictions_see_only_their_subtree(platform):
    c = Client(platform.wsgi)
    staff = auth(platform, "staff")  # city 630100
    r = c.post(
        "/intake/api/v1/demands",
        json={**DEMO_DEMAND, "enterprise": {"credit_code": "91630103MA75A3KX7N"}},
        headers=staff,
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


def samples(text: str) -> list[str]:
    return [line for line in text.splitlines() if line and not line.startswith("#")]


def test_each_service_s_metrics_are_its_own_in_the_embedded_shape(platform):
    """One process, one registry: ``/<svc>/metrics`` shows that service's part of it."""
    c = Client(platform.wsgi)
    r = c.post("/intake/api/v1/demands", json=DEMO_DEMAND, headers=auth(platform, "district"))
    code = r.get_json()["code"]
    wait_for(lambda: len(trace(c, auth(platform, "district"), code)) >= 2)
    c.get("/dispatch/healthz")
    intake = c.get("/intake/metrics").get_data(as_text=True)
    dispatch = c.get("/dispatch/metrics").get_data(as_text=True)
    # intake's HTTP, its consumers, its relay, its business gauges — and nothing else
    assert 'method="POST",service="intake",status="201"' in intake
    assert 'queue="intake.on_assignment_made"' in intake
    assert 'onestop_events_published_total{event_type="demand.accepted",producer="intake"}' in (
        intake
    )
    assert "onestop_demands_open{" in intake
    assert 'onestop_outbox_pending{service="intake"}' in intake
    assert not [line for line in samples(intake) if "dispatch" in line]
    assert "onestop_dispatch_" not in intake and "process_" not in intake
    # and the other way round
    assert 'service="dispatch"' in dispatch and 'queue="dispatch.on_demand_accepted"' in dispatch
    assert 'producer="dispatch"' in dispatch and "onestop_dispatch_agencies{" in dispatch
    assert "onestop_breaches_total" in dispatch
    assert not [line for line in samples(dispatch) if "intake" in line]
    assert "onestop_demands_open" not in dispatch
    # the process's own (CPU, memory) and the console's are at the console's /metrics
    console = c.get("/metrics").get_data(as_text=True)
    assert "process_" in console or "python_gc" in console
    assert 'service="intake"' not in console and "onestop_dispatch_" not in console


class EmbeddedProcess:
    """``onestop run`` as a real process on a free port, with its own data directory."""

    def __init__(self, tmp_path: Path) -> None:
        self.data = tmp_path / "var"
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self.env = {**os.environ, "ONESTOP_DATA_DIR": str(self.data), "PORT": str(self.port)}
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "onestop.cli", "run"],
            env=self.env,
            cwd=Path(__file__).resolve().parents[2],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        wait_port(self.port, 60, self.proc)
        self.headers = {"Authorization": f"Bearer {self.credentials()['district']['key']}"}

    def credentials(self) -> dict:
        return read_credentials(self.data)

    def state(self) -> dict:
        return json.loads((self.data / "embedded-state.json").read_text())

    def stop(self, sig: int = signal.SIGTERM) -> int:
        assert self.proc is not None
        self.proc.send_signal(sig)
        return self.proc.wait(60)

    def post_demands(self, n: int) -> list[str]:
        url = f"{self.base}/intake/api/v1/demands"
        return [
            requests.post(url, json=DEMO_DEMAND, headers=self.headers, timeout=10).json()["code"]
            for _ in range(n)
        ]

    def event_types(self, code: str) -> list[str]:
        r = requests.get(
            f"{self.base}/archive/api/v1/trace/{code}", headers=self.headers, timeout=10
        )
        return [e["event_type"] for e in r.json().get("events", [])]

    def assert_complete(self, codes: list[str]) -> None:
        """Every demand's trace reaches exactly accepted + assignment, and stays there."""
        for code in codes:
            wait_for(lambda code=code: self.event_types(code) == THREAD, timeout=10)
        r = requests.get(
            f"{self.base}/dispatch/api/v1/assignments?limit=500", headers=self.headers, timeout=10
        )
        assert sorted(a["demand_code"] for a in r.json()["items"]) == sorted(codes)


THREAD = ["demand.accepted", "assignment.made"]


def test_graceful_restart_loses_nothing_and_keeps_keys(tmp_path: Path):
    app = EmbeddedProcess(tmp_path)
    app.start()
    creds = app.credentials()
    codes = app.post_demands(15)
    assert app.stop() == 0
    assert app.state()["clean"] is True
    app.start()
    try:
        assert app.credentials() == creds
        app.assert_complete(codes)
    finally:
        app.stop()


@pytest.mark.fault
def test_crash_of_the_embedded_process_loses_no_accepted_demand(tmp_path: Path):
    """SIGKILL while events are in the in-process broker: the next start re-publishes."""
    app = EmbeddedProcess(tmp_path)
    app.start()
    codes = app.post_demands(10)
    app.stop(signal.SIGKILL)
    assert app.state()["clean"] is False
    app.start()
    try:
        app.assert_complete(codes)  # each applied exactly once
    finally:
        app.stop()
