"""Nothing lost, nothing applied twice, under every infrastructure fault (issue 11).

One supervised stack of the production shape with its own durable PostgreSQL and
RabbitMQ (``bench.faults.Rig``). For each fault, 300 demands are posted through the
gateway at a steady rate with Idempotency-Keys, the fault strikes half-way, and when
the platform has settled every demand that got its 201 must exist once in intake,
have exactly one owner assignment in dispatch and exactly one ``demand.accepted`` and
one ``assignment.made`` in the archive, with no dead letter anywhere and no 5xx other
than a 503 with Retry-After. ``make fault-bench`` runs the same with 2,000 a fault.
"""

from __future__ import annotations

import json
import signal
import sys
import time

import pytest

from bench.faults import Rig
from onestop.localservers import Postgres, RabbitMQ
from tests.support import FAULT_REPORTS, need

pytestmark = [pytest.mark.fault, pytest.mark.integration]

DEMANDS = 300
RATE = 25.0  # demands a second: the whole run is about 12 s, the fault in its middle
DOWN = 3.0  # seconds a killed or restarted server stays down


@pytest.fixture(scope="module")
def rig():
    need(Postgres.available(), "postgresql")
    need(RabbitMQ.available(), "rabbitmq-server")
    r = Rig().start()
    yield r
    r.stop()


@pytest.mark.parametrize("fault", list(Rig.FAULTS))
def test_nothing_lost_nothing_doubled(rig, fault):
    report = rig.run(fault, DEMANDS, RATE, DOWN)
    FAULT_REPORTS.append(report)
    print(json.dumps({**report.row(), "statuses": report.statuses}, ensure_ascii=False))
    assert report.posted == DEMANDS + 1  # and the probe posted when the fault struck
    assert report.created == report.posted, report.details
    assert report.lost == 0, report.details
    assert report.doubled == 0, report.details
    assert report.dead_lettered == 0
    assert report.bad_answers == 0, report.details.get("bad")
    assert report.recovery_seconds is not None  # the loop worked again after the fault


def _listening(port: int) -> set[str]:
    """The local addresses listening on ``port`` (from /proc/net/tcp and tcp6)."""
    found = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        with open(table) as f:
            for line in f.readlines()[1:]:
                local, state = line.split()[1], line.split()[3]
                address, hexport = local.rsplit(":", 1)
                if state == "0A" and int(hexport, 16) == port:  # 0A: LISTEN
                    found.add(address)
    return found


def test_the_stack_keeps_its_node_and_listens_on_loopback_only(rig):
    ports = json.loads((rig.base / "ports.json").read_text())
    assert (
        rig.stack.mq is not None and rig.stack.mq.nodename == f"{rig.stack.broker_node}@localhost"
    )
    assert rig.stack.mq.port == ports["amqp"] and rig.stack.pg.port == ports["postgres"]
    loopback = {"0100007F", "00000000000000000000000001000000"}  # 127.0.0.1, ::1
    for name in ("postgres", "amqp", "dist", "management", "epmd"):
        addresses = _listening(ports[name])
        assert addresses and addresses <= loopback, (name, addresses)


def _listeners(sessions: set[int], epmd_port: int) -> dict[str, set[str]]:
    """``{"<name> <pid>": {"ip:port", ...}}``: every listening TCP socket of the processes
    in these sessions (each child of the stack is started in a session of its own), and of
    the stack's epmd (on ``epmd_port``), which daemonizes into a session of its own. An
    epmd of the machine's (the Debian service's, on 4369) is not the stack's."""
    import os

    import psutil

    found: dict[str, set[str]] = {}
    for proc in psutil.process_iter(["pid", "name"]):
        try:
            if os.getsid(proc.pid) not in sessions and proc.info["name"] != "epmd":
                continue
            listening = [
                c.laddr for c in proc.net_connections(kind="inet") if c.status == psutil.CONN_LISTEN
            ]
            ours = os.getsid(proc.pid) in sessions or (
                proc.info["name"] == "epmd" and any(a.port == epmd_port for a in listening)
            )
            if ours and listening:
                found[f"{proc.info['name']} {proc.pid}"] = {f"{a.ip}:{a.port}" for a in listening}
        except (psutil.NoSuchProcess, ProcessLookupError):
            continue
    return found


def test_every_listener_of_run_stack_is_on_loopback(rig):
    """PostgreSQL, RabbitMQ (AMQP, management, Erlang distribution, epmd), nginx, the
    gunicorn APIs and the console, the workers — and a worker's /metrics when it serves
    one (ONESTOP_METRICS_PORT): nothing of run-stack listens beyond 127.0.0.1."""
    from onestop.localservers import free_port, terminate, wait_port

    stack = rig.stack
    port = free_port()
    probe = stack._spawn(  # a worker serving its metrics, as compose's do on 9100
        "metrics-probe",
        [sys.executable, "-m", "services.scoring.worker"],
        {**stack.env(), "ONESTOP_METRICS_PORT": str(port)},
    )
    try:
        wait_port(port, 60, probe)
        assert stack.pg is not None and stack.mq is not None
        servers = [stack.pg.proc, stack.mq.proc]
        sessions = {p.pid for p in [*stack.procs.values(), *servers] if p is not None}
        ports = json.loads((rig.base / "ports.json").read_text())
        found = _listeners(sessions, ports["epmd"])
        every = {a for addresses in found.values() for a in addresses}
        for p in [*ports.values(), *stack.api_ports.values(), rig.port, port]:
            assert any(a.endswith(f":{p}") for a in every), (p, found)  # all seen
        outside = {k: a for k, a in found.items() if any(not _loopback(x) for x in a)}
        assert outside == {}
    finally:
        with stack._lock:
            stack.procs.pop("metrics-probe")
            stack.children.pop("metrics-probe")
        terminate(probe, signal.SIGTERM, 30)


def _loopback(address: str) -> bool:
    ip = address.rsplit(":", 1)[0]
    return ip == "::1" or ip.startswith("127.")


def test_a_dead_letter_waits_on_the_broker_while_the_database_is_down(rig):
    """A poison message dead-lettered while PostgreSQL is down keeps its headers on the
    broker's .dlq and is recorded as soon as the database is back."""
    from kombu import Connection

    from shared.messaging import KombuPublisher, exchange_for
    from tests.support import wait_for

    def depth(queue):
        with Connection(rig.stack.broker_url) as conn:
            return conn.default_channel.queue_declare(queue=queue, passive=True).message_count

    import threading

    from bench.faults import Report

    # the workers are consuming (a demand goes through) before the database goes down
    code = rig.post("dead-letter warm-up", Report("warm-up"), threading.Lock())
    wait_for(lambda: rig._through([code]), timeout=60, interval=0.5)
    dlq = "dispatch.on_demand_accepted.dlq"
    marker = f"poison-{time.time_ns()}"
    assert rig.stack.pg is not None
    rig.stack.pg.stop()
    try:
        pub = KombuPublisher(rig.stack.broker_url)
        pub.publish(
            exchange_for("intake"),
            "demand.accepted.630000.630100.630102",
            json.dumps({"not": "an event", "marker": marker}),
            {"event_type": "demand.accepted"},
        )
        pub.close()
        wait_for(lambda: depth(dlq) >= 1, timeout=20)
        time.sleep(2)  # the worker tried to record it, and paused
        assert depth(dlq) >= 1
    finally:
        rig.stack.pg.start()
    wait_for(lambda: depth(dlq) == 0, timeout=60, interval=0.5)
    listed = [
        json.loads(line)
        for line in rig.stack.onestop("dlq", "list", "dispatch.on_demand_accepted").splitlines()
    ]
    [letter] = [
        x
        for x in listed
        if marker in rig.stack.onestop("dlq", "show", x["queue"], "--id", str(x["id"]))
    ]
    assert letter["reason"].startswith("invalid event") and letter["times"] == 1


def test_run_stack_supervision_starts_a_dead_server_again_on_its_data(rig):
    """Under run-stack the supervisor restarts PostgreSQL (or RabbitMQ) itself."""
    import threading

    from bench.faults import Report
    from tests.support import wait_for

    assert rig.stack.pg is not None
    rig.stack.supervise_infra = True
    try:
        before = rig.post("before the crash", Report("supervised"), threading.Lock())
        rig.stack.pg.kill()
        wait_for(rig.stack.pg.running, timeout=30, interval=0.2)
        after = rig.post("after the crash", Report("supervised"), threading.Lock())
        wait_for(lambda: len(rig._through([before, after])) == 2, timeout=60, interval=0.5)
    finally:
        rig.stack.supervise_infra = False
