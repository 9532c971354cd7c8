"""Faults injected into the production shape while demands arrive, and what survived.

A rig is a stack of its own: durable PostgreSQL, a RabbitMQ node, gunicorn APIs and
workers for every service, the nginx gateway, all supervised as ``run-stack`` does.
A run posts demands through the gateway at a steady rate, each with its own
``Idempotency-Key``, retrying as a client must (a 503 after its ``Retry-After``, a
refused connection after a moment); half-way it injects one fault. Then it waits
for the platform to settle and counts, straight from each service's database:

* **lost** — a demand that got its 201 but is missing from intake, has no owner
  assignment in dispatch, or lacks its ``demand.accepted`` or ``assignment.made``
  in the archive;
* **doubled** — a demand created twice for one key, a second owner assignment, a
  second archived ``demand.accepted`` or ``assignment.made``;
* **dead-lettered** — dead letters recorded by any service, or still on a ``.dlq``;
* **bad answers** — any 5xx other than a 503 with ``Retry-After``;
* **recovery seconds** — from the moment the fault hits (a server down, a process
  killed, the stack stopped) until a demand posted at that moment, retried as above,
  is through the whole loop (its assignment archived).

Used by the fault tests (``tests/fault``, 300 demands a fault) and by
``make fault-bench`` (``python -m bench.faults``, 2,000 a fault, a table).
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import sys
import tempfile
import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import psycopg
import requests

from onestop.localservers import Postgres, RabbitMQ, free_port
from onestop.stack import Stack
from shared.config import SERVICES

DEMAND = {
    "enterprise": {"credit_code": "91630102MA7522T5X6", "name": "青海高原新材料科技有限公司"},
    "category": "technology",
    "description": "需要改进锂电池正极材料烧结工艺，降低能耗。",
    "source": "online",
}


@dataclass
class Report:
    fault: str
    posted: int = 0
    created: int = 0
    lost: int = 0
    doubled: int = 0
    dead_lettered: int = 0
    bad_answers: int = 0
    recovery_seconds: float | None = None
    retries: int = 0
    statuses: Counter[str] = field(default_factory=Counter)
    details: dict[str, Any] = field(default_factory=dict)

    def row(self) -> dict[str, Any]:
        return {
            "fault": self.fault,
            "posted": self.posted,
            "201": self.created,
            "lost": self.lost,
            "doubled": self.doubled,
            "dead-lettered": self.dead_lettered,
            "bad 5xx": self.bad_answers,
            "recovery s": self.recovery_seconds,
            "retries": self.retries,
        }


class Rig:
    """A supervised stack with its own durable servers, and the faults it can suffer."""

    def __init__(self, base: Path | None = None, *, gunicorn_workers: int = 2) -> None:
        self.base = base or Path(tempfile.mkdtemp(prefix="onestop-faults-"))
        self.stack = Stack(
            base=self.base,
            gunicorn_workers=gunicorn_workers,
            gunicorn_threads=4,
            # A tight retry budget (3 attempts 10 ms apart): any outage outlasts a message's
            # attempts, so a transient failure counted as an attempt would dead-letter it.
            broker_node=f"onestop-faults-{free_port()}",  # beside a run-stack's node
            extra_env={
                "ONESTOP_PERIODIC_INTERVAL": "3600",
                "ONESTOP_MAX_ATTEMPTS": "3",
                "ONESTOP_RETRY_BACKOFF": "0.01",
            },
        )
        self.port = free_port()
        self._strike: Callable[[], None] = lambda: None

    # lifecycle ---------------------------------------------------------------
    def start(self) -> Rig:
        try:
            self.stack.start(gateway_port=self.port)
        except BaseException:
            self.stack.destroy()  # no server left behind
            raise
        self.stack.supervise()
        creds = json.loads((self.base / "data" / "demo-credentials.json").read_text())
        self.key = creds["district"]["key"]
        self.admin_key = creds["admin"]["key"]
        return self

    def stop(self) -> None:
        self.stack.destroy()

    @property
    def gateway(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def dsn(self, database: str) -> str:
        return self.stack.database_urls[database].replace("postgresql+psycopg://", "postgresql://")

    # faults --------------------------------------------------------------------
    @staticmethod
    def _children(pid: int) -> list[int]:
        found = []
        for stat in Path("/proc").glob("[0-9]*/stat"):
            try:
                fields = stat.read_text().rsplit(")", 1)[1].split()
            except (OSError, IndexError):
                continue
            if int(fields[1]) == pid:  # the parent's pid, after the state
                found.append(int(stat.parent.name))
        return sorted(found)

    BACKLOGGED = ("dispatch-worker", "archive-worker")

    def _backlog(self, seconds: float = 2.0) -> None:
        """Freeze the busiest consumers so that a backlog is queued when a server fails:
        they meet the outage with their queues full, not idle between two demands."""
        for key in self.BACKLOGGED:
            self.stack.freeze(key)
        time.sleep(seconds)

    def _release(self) -> None:
        for key in self.BACKLOGGED:
            self.stack.thaw(key)

    def _server_down(self, server: Postgres | RabbitMQ | None, crash: bool, down: float) -> None:
        """A server fails (a fast shutdown, or SIGKILL to all its processes) with a
        backlog queued, stays down ``down`` seconds and comes back on the same data."""
        assert server is not None
        self._backlog()
        server.kill() if crash else server.stop()
        self._strike()
        self._release()
        time.sleep(down)
        server.start()

    def postgres_restart(self, down: float) -> None:
        self._server_down(self.stack.pg, False, down)

    def postgres_kill(self, down: float) -> None:
        self._server_down(self.stack.pg, True, down)  # crash recovery from the WAL

    def rabbitmq_kill(self, down: float) -> None:
        self._server_down(self.stack.mq, True, down)  # what was queued must survive

    def workers_kill(self, down: float) -> None:
        for name in SERVICES:  # the supervisor starts them again
            self.stack.kill(f"{name}-worker")
        self._strike()

    def api_worker_kill(self, down: float) -> None:
        for name in ("intake", "dispatch", "archive"):
            master = self.stack.procs[f"{name}-api"].pid
            for child in self._children(master)[:1]:
                os.kill(child, signal.SIGKILL)  # gunicorn's master forks a new one
        self._strike()

    def api_master_kill(self, down: float) -> None:
        for name in ("intake", "dispatch", "archive"):
            self.stack.kill(f"{name}-api", group=False)  # the supervisor starts it again
        self._strike()

    def stack_restart(self, down: float) -> None:
        """The whole stack stopped and started again, the workers frozen first so that
        a backlog is queued on the broker and in the outboxes when it stops."""
        self._backlog(down)
        self._release()
        self.stack.stop()
        self._strike()
        self.stack.start(gateway_port=self.port)
        self.stack.supervise()

    FAULTS: dict[str, str] = {
        "postgres-restart": "postgres_restart",
        "postgres-kill": "postgres_kill",
        "rabbitmq-kill": "rabbitmq_kill",
        "worker-kill": "workers_kill",
        "api-worker-kill": "api_worker_kill",
        "api-master-kill": "api_master_kill",
        "stack-restart": "stack_restart",
    }

    # a run -------------------------------------------------------------------------
    def post(self, title: str, report: Report, lock: threading.Lock) -> str | None:
        """POST one demand until it is created (201); its code. Retries as a client must."""
        key = str(uuid.uuid4())
        headers = {"Authorization": f"Bearer {self.key}", "Idempotency-Key": key}
        deadline = time.monotonic() + 180
        while time.monotonic() < deadline:
            try:
                r = requests.post(
                    f"{self.gateway}/intake/api/v1/demands",
                    json={**DEMAND, "title": title},
                    headers=headers,
                    timeout=30,
                )
            except requests.RequestException as exc:
                with lock:
                    report.statuses[type(exc).__name__] += 1
                    report.retries += 1
                time.sleep(0.2)
                continue
            with lock:
                report.statuses[str(r.status_code)] += 1
            if r.status_code in (200, 201):
                return str(r.json()["code"])
            with lock:
                report.retries += 1
                if r.status_code >= 500 and not (
                    r.status_code == 503 and r.headers.get("Retry-After")
                ):
                    report.bad_answers += 1
                    report.details.setdefault("bad", []).append(r.text[:300])
                elif r.status_code < 500:
                    report.details.setdefault("refused", []).append(r.text[:300])
            wait = float(r.headers.get("Retry-After", 0.2)) if r.status_code == 503 else 0.2
            time.sleep(min(wait, 1.0))  # a patient client would wait it all; the run is short
        return None

    def run(self, fault: str, demands: int, rate: float, down: float = 3.0) -> Report:
        report = Report(fault)
        lock = threading.Lock()
        run_id = uuid.uuid4().hex[:8]
        inject: Callable[[float], None] = getattr(self, self.FAULTS[fault])
        codes: list[str | None] = []
        fault_at: dict[str, float] = {}
        probe: dict[str, str | None] = {}

        def follow() -> None:
            code = self.post(f"{run_id} probe", report, lock)
            probe["code"] = code
            while code and time.monotonic() - fault_at["start"] < 600:
                try:
                    if self._through([code]):
                        fault_at["recovered"] = time.monotonic()
                        return
                except psycopg.OperationalError:
                    pass  # the archive's database is the one that is down
                time.sleep(0.2)

        follower = threading.Thread(target=follow, name="probe")

        def strike() -> None:
            """The fault has hit (a server is down, a process killed): from now on a
            probe demand is posted and followed until its assignment is archived."""
            if "start" not in fault_at:
                fault_at["start"] = time.monotonic()
                follower.start()

        def faulty() -> None:
            self._strike = strike
            inject(down)
            strike()  # a fault that did not say when it hit: when it was done
            follower.join()

        dead_before = self.dead_letters()
        started = time.monotonic()
        injector = threading.Thread(target=faulty, name="fault")
        with ThreadPoolExecutor(32) as pool:
            futures = []
            for i in range(demands):
                if i == demands // 2:
                    injector.start()
                futures.append(pool.submit(self.post, f"{run_id} #{i}", report, lock))
                time.sleep(max(0.0, started + (i + 1) / rate - time.monotonic()))
            codes = [f.result() for f in futures]
        injector.join()
        if probe.get("code"):
            codes.append(probe["code"])
        report.posted = demands + 1
        created = [c for c in codes if c]
        report.created = len(created)
        report.details["unanswered"] = report.posted - report.created
        self.settle(created, timeout=240)
        if "recovered" in fault_at:
            report.recovery_seconds = round(fault_at["recovered"] - fault_at["start"], 1)
        self.count(report, created, run_id)
        report.dead_lettered = self.dead_letters() - dead_before
        return report

    def _through(self, codes: list[str]) -> set[str]:
        with psycopg.connect(self.dsn("archive")) as conn:
            rows = conn.execute(
                "SELECT demand_code FROM archived_events "
                "WHERE event_type = 'assignment.made' AND demand_code = ANY(%s)",
                (codes,),
            ).fetchall()
        return {r[0] for r in rows}

    def settle(self, codes: list[str], timeout: float) -> bool:
        """Wait until every created demand is through and every outbox is published."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                if len(self._through(codes)) >= len(set(codes)) and self._quiet():
                    return True
            except psycopg.OperationalError:
                pass
            time.sleep(0.5)
        return False

    def _quiet(self) -> bool:
        total = 0
        for name in SERVICES:
            with psycopg.connect(self.dsn(name)) as conn:
                total += conn.execute(
                    "SELECT count(*) FROM outbox WHERE published_at IS NULL"
                ).fetchone()[0]
        return total == 0

    def count(self, report: Report, codes: list[str], run_id: str) -> None:
        wanted = set(codes)
        with psycopg.connect(self.dsn("intake")) as conn:
            titles = conn.execute(
                "SELECT title, count(*) FROM demands WHERE title LIKE %s GROUP BY title",
                (f"{run_id} %",),
            ).fetchall()
            in_intake = {
                r[0]
                for r in conn.execute(
                    "SELECT code FROM demands WHERE code = ANY(%s)", (codes,)
                ).fetchall()
            }
        with psycopg.connect(self.dsn("dispatch")) as conn:
            owners = dict(
                conn.execute(
                    "SELECT demand_code, count(*) FROM assignments "
                    "WHERE kind = 'owner' AND demand_code = ANY(%s) GROUP BY demand_code",
                    (codes,),
                ).fetchall()
            )
        with psycopg.connect(self.dsn("archive")) as conn:
            archived = conn.execute(
                "SELECT demand_code, event_type, count(*) FROM archived_events "
                "WHERE demand_code = ANY(%s) AND event_type IN "
                "('demand.accepted', 'assignment.made') GROUP BY demand_code, event_type",
                (codes,),
            ).fetchall()
        per = {(c, t): n for c, t, n in archived}
        lost = {
            c
            for c in wanted
            if c not in in_intake
            or owners.get(c, 0) == 0
            or per.get((c, "demand.accepted"), 0) == 0
            or per.get((c, "assignment.made"), 0) == 0
        }
        doubled = sum(n - 1 for _, n in titles if n > 1)
        doubled += sum(n - 1 for n in owners.values() if n > 1)
        doubled += sum(n - 1 for n in per.values() if n > 1)
        report.lost = len(lost) + report.details["unanswered"]
        report.doubled = doubled
        if lost:
            report.details["lost"] = sorted(lost)[:20]

    def dead_letters(self) -> int:
        total = 0
        for name in SERVICES:
            with psycopg.connect(self.dsn(name)) as conn:
                total += conn.execute("SELECT count(*) FROM dead_letters").fetchone()[0]
        from kombu import Connection

        from onestop.topology import platform_subscriptions

        with Connection(self.stack.broker_url) as conn:
            ch = conn.default_channel
            for sub in platform_subscriptions(_settings(self.stack)):
                total += ch.queue_declare(queue=f"{sub.queue}.dlq", passive=True).message_count
        return total


def _settings(stack: Stack) -> Any:
    from shared.config import load_settings

    return load_settings(stack.env())


def table(reports: list[Report]) -> str:
    rows = [r.row() for r in reports]
    heads = list(rows[0])
    lines = ["| " + " | ".join(heads) + " |", "|" + "---|" * len(heads)]
    lines += ["| " + " | ".join(str(r[h]) for h in heads) + " |" for r in rows]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--demands", type=int, default=2000, help="per fault")
    parser.add_argument("--rate", type=float, default=20.0, help="demands per second")
    parser.add_argument("--down", type=float, default=10.0, help="seconds a server stays down")
    parser.add_argument("--fault", action="append", choices=list(Rig.FAULTS), default=None)
    args = parser.parse_args()
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))  # stop the rig's servers too
    rig = Rig().start()
    reports = []
    try:
        for fault in args.fault or list(Rig.FAULTS):
            report = rig.run(fault, args.demands, args.rate, args.down)
            print(json.dumps({**report.row(), "statuses": report.statuses}), flush=True)
            reports.append(report)
    finally:
        rig.stop()
    print(table(reports))


if __name__ == "__main__":
    main()
