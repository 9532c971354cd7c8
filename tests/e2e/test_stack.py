"""The thread and its fault tolerance on the production shape.

gunicorn API + worker process per service, real RabbitMQ and PostgreSQL
(started by the suite). Fault tests: broker outage while demands arrive, a
worker killed with SIGKILL mid-stream, a poison message, a duplicate delivery.
"""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
import requests
from kombu import Connection

from onestop.localservers import free_port
from onestop.stack import ROOT, Stack
from shared.events import parse_event
from shared.messaging import KombuPublisher, exchange_for
from tests.factories import DEMO_DEMAND
from tests.support import read_credentials, wait_for

pytestmark = [pytest.mark.e2e, pytest.mark.integration]


@pytest.fixture(scope="module")
def stack(postgres, rabbitmq):
    s = Stack(
        base=Path(tempfile.mkdtemp(prefix="onestop-stack-")),
        broker_url=rabbitmq.url,
        database_urls={
            n: postgres.url(n)
            for n in ("directory", "intake", "dispatch", "visits", "scoring", "archive")
        },
        gunicorn_workers=1,
        gunicorn_threads=4,
        extra_env={"ONESTOP_BROKER_ADMIN_URL": rabbitmq.admin_url},
    )
    s.mq = None  # owned by the session fixture; the fault tests stop/start it directly
    s.start()
    s.creds = read_credentials(s.base / "data")
    s.rabbit = rabbitmq
    yield s
    s.destroy()


def url(stack, svc, path):
    return f"http://127.0.0.1:{stack.api_ports[svc]}{path}"


def hdr(stack, role="district"):
    return {"Authorization": f"Bearer {stack.creds[role]['key']}"}


def post_demand(stack):
    r = requests.post(
        url(stack, "intake", "/api/v1/demands"), json=DEMO_DEMAND, headers=hdr(stack), timeout=10
    )
    assert r.status_code == 201, r.text
    return r.json()["code"]


def trace(stack, code):
    r = requests.get(url(stack, "archive", f"/api/v1/trace/{code}"), headers=hdr(stack), timeout=10)
    return r.json()["events"] if r.status_code == 200 else []


def complete(stack, code):
    ev = trace(stack, code)
    return ev if [e["event_type"] for e in ev] == ["demand.accepted", "assignment.made"] else None


def assignments(stack, code):
    r = requests.get(
        url(stack, "dispatch", f"/api/v1/assignments?demand_code={code}"),
        headers=hdr(stack),
        timeout=10,
    )
    return r.json()["items"]


def test_thread_over_http_and_amqp(stack):
    started = time.monotonic()
    code = post_demand(stack)
    events = wait_for(lambda: complete(stack, code), timeout=5)
    assert time.monotonic() - started < 5
    assert events[0]["payload"]["demand_code"] == code
    r = requests.get(url(stack, "intake", "/readyz"), timeout=5)
    assert r.json()["checks"] == {"database": "ok", "broker": "ok"}
    metrics = requests.get(url(stack, "intake", "/metrics"), timeout=5).text
    assert "onestop_http_requests_total" in metrics


@pytest.mark.fault
def consumed(text, queue, outcome="applied"):
    return sum(
        float(line.rsplit(" ", 1)[1])
        for line in text.splitlines()
        if line.startswith("onestop_events_consumed_total")
        and f'queue="{queue}"' in line
        and f'outcome="{outcome}"' in line
    )


def test_every_worker_serves_its_metrics_and_its_consumer_counters_move(stack):
    assert set(stack.metrics_ports) == set(stack.api_ports) - {"console"}

    def scrape(name):
        return requests.get(f"http://127.0.0.1:{stack.metrics_ports[name]}/metrics", timeout=5)

    for name in stack.metrics_ports:
        r = scrape(name)
        assert r.status_code == 200 and "onestop_events_consumed_total" in r.text, name
    before = consumed(scrape("dispatch").text, "dispatch.on_demand_accepted")
    code = post_demand(stack)
    wait_for(lambda: complete(stack, code), timeout=10)
    text = wait_for(
        lambda: (
            (t := scrape("dispatch").text)
            and consumed(t, "dispatch.on_demand_accepted") > before
            and t
        )
    )
    # the worker's relay published dispatch's assignment.made, confirmed by the broker
    assert 'onestop_events_published_total{event_type="assignment.made",producer="dispatch"}' in (
        text
    )


@pytest.mark.fault
def test_broker_outage_accepts_demands_and_delivers_when_back(stack):
    stack.rabbit.stop()
    try:
        codes = [post_demand(stack) for _ in range(5)]  # still 201: the outbox holds them
        time.sleep(1)
        assert all(not trace(stack, c) for c in codes)
    finally:
        stack.rabbit.start()
    for code in codes:
        wait_for(lambda code=code: complete(stack, code), timeout=60, interval=0.5)
        assert len(assignments(stack, code)) == 1


def queue_depth(stack, queue):
    with Connection(stack.rabbit.url) as conn:
        return conn.default_channel.queue_declare(queue=queue, passive=True).message_count


@pytest.mark.fault
def test_worker_killed_mid_flight_is_redelivered_and_applied_once(stack):
    codes = [post_demand(stack) for _ in range(5)]
    # Freeze the dispatch worker, then let demands arrive: the broker fills its
    # prefetch window (delivered, not acknowledged) and queues the rest. Killing
    # it now is a crash in the middle of the flow, every time.
    stack.freeze("dispatch-worker")
    metrics_port = free_port()
    try:
        with ThreadPoolExecutor(8) as pool:
            codes += list(pool.map(lambda _: post_demand(stack), range(60)))
        wait_for(lambda: queue_depth(stack, "dispatch.on_demand_accepted") > 0, timeout=10)
    finally:
        stack.signal("dispatch-worker", signal.SIGKILL)
        stack.start_worker("dispatch", ONESTOP_METRICS_PORT=str(metrics_port))
    for code in codes:
        wait_for(lambda code=code: complete(stack, code), timeout=60, interval=0.2)
        assert len(assignments(stack, code)) == 1
    text = requests.get(f"http://127.0.0.1:{metrics_port}/metrics", timeout=5).text
    redelivered = sum(
        float(line.rsplit(" ", 1)[1])
        for line in text.splitlines()
        if line.startswith("onestop_events_consumed_total") and 'outcome="redelivered"' in line
    )
    assert redelivered >= 1  # the unacknowledged deliveries came back, and were applied once


def _publish_raw(stack, routing_key, body):
    pub = KombuPublisher(stack.rabbit.url)
    pub.publish(exchange_for("intake"), routing_key, body, {})
    pub.close()


def _dead_letters(stack, queue):
    """The dead letters dispatch's worker drained from ``<queue>.dlq`` into its database."""
    r = requests.get(
        url(stack, "dispatch", f"/api/v1/dead-letters?queue={queue}"),
        headers=hdr(stack, "admin"),
        timeout=10,
    )
    assert r.status_code == 200, r.text
    return r.json()["items"]


@pytest.mark.fault
def test_poison_message_is_dead_lettered_and_the_queue_keeps_flowing(stack):
    _publish_raw(stack, "demand.accepted.630000.630100.630102", '{"event_type": "demand.accepted"}')
    [dead] = wait_for(lambda: _dead_letters(stack, "dispatch.on_demand_accepted"), timeout=10)
    assert "invalid event" in dead["reason"] and dead["queue"] == "dispatch.on_demand_accepted"
    # kept in the database, so the broker's .dlq is empty again
    wait_for(lambda: queue_depth(stack, "dispatch.on_demand_accepted.dlq") == 0, timeout=10)
    code = post_demand(stack)
    wait_for(lambda: complete(stack, code), timeout=10)


@pytest.mark.fault
def test_same_event_delivered_twice_is_applied_once(stack):
    code = post_demand(stack)
    events = wait_for(lambda: complete(stack, code), timeout=10)
    accepted = {k: v for k, v in events[0].items() if k != "archive"}
    parse_event(accepted)  # a valid envelope, replayed as is
    _publish_raw(stack, "demand.accepted.630000.630100.630102", json.dumps(accepted))
    _publish_raw(stack, "demand.accepted.630000.630100.630102", json.dumps(accepted))
    marker = post_demand(stack)  # consumed after the duplicates (one queue, in order)
    wait_for(lambda: complete(stack, marker), timeout=10)
    time.sleep(0.5)
    assert len(assignments(stack, code)) == 1
    assert [e["event_type"] for e in trace(stack, code)] == ["demand.accepted", "assignment.made"]


@pytest.fixture(scope="module")
def gateway(stack):
    """The nginx gateway in front of the stack (started once): its base URL."""
    import shutil

    from tests.support import need

    need(bool(shutil.which("nginx") or Path("/usr/sbin/nginx").exists()), "nginx")
    if stack.gateway_port is None:
        stack.gateway_port = free_port()
        stack.start_gateway(stack.gateway_port)
    return f"http://127.0.0.1:{stack.gateway_port}"


def test_the_gateway_s_request_id_is_the_one_services_publish_and_it_logs(stack, gateway):
    """nginx gives a request its id (the caller's X-Request-ID, else its own $request_id),
    answers it, logs it, and the services put it on every event of the demand."""
    r = requests.post(
        f"{gateway}/intake/api/v1/demands", json=DEMO_DEMAND, headers=hdr(stack), timeout=10
    )
    assert r.status_code == 201, r.text
    rid = r.headers["X-Request-ID"]
    assert len(rid) == 32 and int(rid, 16) >= 0  # nginx's $request_id: the caller sent none
    assert r.headers["X-Correlation-ID"] == rid  # the service took it as its own
    code = r.json()["code"]
    events = wait_for(lambda: complete(stack, code), timeout=10)
    assert {e["correlation_id"] for e in events} == {rid}  # intake's and dispatch's events
    wait_for(lambda: f'cid="{rid}"' in access_log(stack))
    # the lines the intake API and the dispatch worker logged about this demand
    for key in ("intake-api", "dispatch-worker"):
        lines = wait_for(lambda key=key: service_lines(stack, key, code))
        assert all(f"cid={rid} " in line for line in lines), lines
    # a caller's own id is kept end to end; an unsafe one is replaced by nginx's
    mine = requests.post(
        f"{gateway}/intake/api/v1/demands",
        json=DEMO_DEMAND,
        headers={**hdr(stack), "X-Request-ID": "caller-42"},
        timeout=10,
    )
    assert mine.headers["X-Request-ID"] == "caller-42"
    events = wait_for(lambda: complete(stack, mine.json()["code"]), timeout=10)
    assert {e["correlation_id"] for e in events} == {"caller-42"}
    bad = requests.get(f"{gateway}/intake/healthz", headers={"X-Request-ID": "a b"}, timeout=5)
    assert len(bad.headers["X-Request-ID"]) == 32
    assert wait_for(lambda: f'cid="{bad.headers["X-Request-ID"]}"' in access_log(stack))


def access_log(stack):
    return (stack.base / "gateway" / "access.log").read_text()


def service_lines(stack, key, code):
    """The lines a process of the stack logged that name ``code``."""
    text = (stack.base / "logs" / f"{key}.log").read_text(errors="replace")
    return [line for line in text.splitlines() if code in line]


def test_gateway_serves_every_service_under_its_prefix(stack, gateway):
    gw = gateway
    r = requests.post(
        f"{gw}/intake/api/v1/demands", json=DEMO_DEMAND, headers=hdr(stack), timeout=10
    )
    assert r.status_code == 201, r.text
    code = r.json()["code"]
    events = wait_for(
        lambda: (
            requests.get(f"{gw}/archive/api/v1/trace/{code}", headers=hdr(stack), timeout=10)
            .json()
            .get("events")
        ),
        timeout=10,
    )
    assert events[0]["event_type"] == "demand.accepted"
    for svc in ("intake", "dispatch", "visits", "scoring", "archive"):
        assert requests.get(f"{gw}/{svc}/healthz", timeout=5).json()["service"] == svc
        assert "paths" in requests.get(f"{gw}/{svc}/openapi.json", timeout=5).json()
        # the docs with or without the slash, and "Try it out" under the gateway's prefix
        assert requests.get(f"{gw}/{svc}/docs", timeout=5).status_code == 200
        r = requests.get(f"{gw}/{svc}/docs/", timeout=5, allow_redirects=False)
        assert r.status_code == 308 and r.headers["Location"] == f"/{svc}/docs", r.headers
        [server] = requests.get(f"{gw}/{svc}/openapi.json", timeout=5).json()["servers"]
        assert requests.get(f"{gw}{server['url']}/healthz", timeout=5).json()["service"] == svc
        r = requests.get(f"{gw}/{svc}/metrics", timeout=5)  # not public
        assert r.status_code == 404 and r.json()["error"]["code"] == "not_found"
    # the survey sheet the README promises (up to 20 MiB) passes the gateway's body limit
    from tests.e2e.test_body_limits import big_sheet

    r = requests.post(
        f"{gw}/intake/api/v1/enterprises/import",
        headers=hdr(stack, "staff"),
        files={"file": ("survey.csv", big_sheet())},
        timeout=60,
    )
    assert r.status_code == 200 and r.json()["rejected"] == [], r.text[:500]
    # the console answers "/" and calls the services through this gateway
    from onestop.demo import DEMO_PASSWORD
    from tests.console.conftest import csrf_of

    browser = requests.Session()
    page = browser.get(f"{gw}/sign-in", timeout=10)
    assert page.status_code == 200 and "登录" in page.text
    r = browser.post(
        f"{gw}/sign-in",
        data={
            "username": "qiye.gaoyuan",
            "password": DEMO_PASSWORD,
            "csrf_token": csrf_of(page.text),
        },
        allow_redirects=False,
        timeout=10,
    )
    assert r.status_code == 302, r.text[:2000]
    hall = browser.get(f"{gw}/hall/", timeout=10)
    assert hall.status_code == 200 and "我的需求" in hall.text
    assert browser.get(f"{gw}/nowhere", timeout=5).status_code == 404  # the console's page
    r = requests.get(f"{gw}/metrics", timeout=5)  # not public either
    assert r.status_code == 404 and r.json()["error"]["code"] == "not_found"


def test_intake_on_postgresql_registry_loop_queries_and_open311(stack):
    """The intake features that touch SQL beyond the thread, on PostgreSQL."""
    from shared.creditcodes import credit_check_char

    base = f"http://127.0.0.1:{stack.api_ports['intake']}"
    h = hdr(stack, "staff")
    code17 = "91630104MA7PG0001"
    credit = code17 + credit_check_char(code17)
    r = requests.post(
        f"{base}/api/v1/enterprises",
        headers=h,
        timeout=10,
        json={
            "credit_code": credit,
            "name": "PG 测试企业",
            "jurisdiction": "630104",
            "revenue": 150_000_000,
            "has_rd_activity": False,
        },
    )
    assert r.status_code == 201 and r.json()["needs_named_person"], r.text
    sheet = f"统一社会信用代码,企业名称,所属区划代码\n{credit},PG 测试企业,630104\n".encode()
    rep = requests.post(
        f"{base}/api/v1/enterprises/import", headers=h, timeout=10, files={"file": ("s.csv", sheet)}
    ).json()
    assert (rep["unchanged"], rep["rejected"]) == (1, [])
    demand = {
        "enterprise": {"credit_code": credit},
        "category": "ip",
        "service_item": "ip_filing",
        "title": "专利布局",
        "description": "需要专利布局",
        "source": "online",
    }
    r = requests.post(
        f"{base}/api/v1/demands", timeout=10, json=demand, headers={**h, "Idempotency-Key": "pg-1"}
    )
    assert r.status_code == 201, r.text
    code = r.json()["code"]
    again = requests.post(
        f"{base}/api/v1/demands", timeout=10, json=demand, headers={**h, "Idempotency-Key": "pg-1"}
    )
    assert again.json()["code"] == code and again.headers["Idempotent-Replayed"] == "true"
    for to, extra in [
        ("in_progress", {}),
        ("feedback", {}),
        ("closed", {"resolution": "solved", "note": "已提交申请"}),
    ]:
        r = requests.post(
            f"{base}/api/v1/demands/{code}/transitions",
            headers=h,
            timeout=10,
            json={"to": to, **extra},
        )
        assert r.status_code == 200, r.text
    r = requests.post(
        f"{base}/api/v1/demands/{code}/revisit",
        headers=h,
        timeout=10,
        json={"rating": 1, "comment": "太慢"},
    )
    assert r.json()["status"] == "follow_up"
    feed = requests.get(f"{base}/api/v1/demands/{code}/updates", headers=h, timeout=10).json()
    assert [u["to_status"] for u in feed["items"]][-2:] == [None, "follow_up"]
    page = requests.get(f"{base}/api/v1/demands?limit=2&category=ip", headers=h, timeout=10).json()
    codes = [d["code"] for d in page["items"]]
    while page["next_cursor"]:
        page = requests.get(
            f"{base}/api/v1/demands?limit=2&category=ip&cursor={page['next_cursor']}",
            headers=h,
            timeout=10,
        ).json()
        codes += [d["code"] for d in page["items"]]
    assert code in codes and len(codes) == len(set(codes))
    key = stack.creds["staff"]["key"]
    r = requests.post(
        f"{base}/open311/v2/requests.json",
        timeout=10,
        data={
            "api_key": key,
            "service_code": "patent_use",
            "address_string": "城西区",
            "description": "专利转化",
            "attribute[credit_code]": credit,
            "jurisdiction_id": "630104",
            "attribute[enterprise_name]": "PG 测试企业",
        },
    )
    assert r.status_code == 201, r.text
    rid = r.json()[0]["service_request_id"]
    [got] = requests.get(f"{base}/open311/v2/requests/{rid}.json", timeout=10).json()
    assert got["status"] == "open" and got["description"] is None
    archive = f"http://127.0.0.1:{stack.api_ports['archive']}/api/v1/trace/{rid}"
    events = wait_for(
        lambda: (
            (r := requests.get(archive, headers=h, timeout=10)).status_code == 200
            and len(r.json()["events"]) >= 2
            and r.json()["events"]
        ),
        timeout=10,
    )
    types = {e["event_type"] for e in events}
    assert {"demand.accepted", "assignment.made"} <= types


def _admit(stack, agency_id):
    r = requests.post(
        url(stack, "dispatch", "/api/v1/agencies"),
        json={
            "id": agency_id,
            "name": f"测试专利代理 {agency_id}",
            "category": "patent",
            "city": "630100",
            "rank_basis": 5,
            "engagements_two_years": 8,
        },
        headers=hdr(stack, "admin"),
        timeout=30,
    )
    assert r.status_code == 201, r.text
    return r.json()


def _consumer(stack, broker, queue, *extra):
    amqp = broker["url"].replace("@", f":{broker['password']}@", 1)
    return subprocess.run(
        [
            sys.executable,
            str(ROOT / "examples" / "agency_consumer.py"),
            "--url",
            amqp,
            "--queue",
            queue,
            "--count",
            "1",
            "--timeout",
            "20",
            *extra,
        ],
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_an_agency_reads_its_own_queue_with_pika_and_nothing_else(stack):
    mine = _admit(stack, "ag-pat-mq1")
    other = _admit(stack, "ag-pat-mq2")
    assert mine["broker"]["username"] == "agency-ag-pat-mq1" and mine["broker"]["password"]
    demand = {**DEMO_DEMAND, "category": "ip", "service_item": "ip_filing"}
    r = requests.post(
        url(stack, "intake", "/api/v1/demands"),
        json={**demand, "ordered_agency": "ag-pat-mq1"},
        headers=hdr(stack),
        timeout=10,
    )
    assert r.status_code == 201, r.text
    code = r.json()["code"]
    out = _consumer(
        stack,
        mine["broker"],
        "agency.ag-pat-mq1",
        "--api",
        url(stack, "dispatch", ""),
        "--key",
        mine["api_key"],
    )
    assert out.returncode == 0, out.stderr
    [line] = out.stdout.splitlines()
    msg = json.loads(line)
    assert msg["event_type"] == "agency.order_dispatched"
    assert msg["payload"]["demand_code"] == code and msg["payload"]["agency_id"] == "ag-pat-mq1"
    # no consent to share further, but the assigned agency handles the demand: it reads it
    assert msg["payload"]["consent_to_share"] is False and msg["payload"]["details"]["title"]
    assert msg["acknowledged"] == 200
    # another agency's broker credentials are refused on this queue by RabbitMQ itself
    denied = _consumer(stack, other["broker"], "agency.ag-pat-mq1")
    assert denied.returncode != 0 and "ACCESS_REFUSED" in denied.stderr
    # ... and its own queue holds nothing of ours (the order went to ag-pat-mq1 only)
    with Connection(stack.broker_url) as conn:
        _, count, _ = conn.default_channel.queue_declare(queue="agency.ag-pat-mq2", passive=True)
    assert count == 0
    # the order is acknowledged in dispatch
    r = requests.get(
        url(stack, "dispatch", f"/api/v1/assignments?demand_code={code}&kind=agency"),
        headers={"Authorization": f"Bearer {mine['api_key']}"},
        timeout=10,
    )
    assert [a["status"] for a in r.json()["items"]] == ["acknowledged"]
