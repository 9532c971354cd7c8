"""Callback delivery on the stack shape (gunicorn + workers, RabbitMQ, PostgreSQL).

A district key registers a callback on a receiver this process serves (plain http on the
loopback: ``ONESTOP_CALLBACK_LOOPBACK_HTTP=1``), files demands and moves each through
in_progress → feedback → closed over HTTP. Prints one JSON report:

* ``live``: the receiver up — deliveries received per second (from the first status change
  to the last receipt) and the delay from each status change (the event's ``occurred_at``)
  to its receipt: p50/p95/p99/max;
* ``capacity``: a backlog made while the intake worker is frozen (SIGSTOP), then drained:
  deliveries per second from the thaw to the last receipt;
* ``receiver_down``: the receiver not listening (connection refused) for ``--down-seconds``
  (default 600) while the demands change; then it listens again — how long until every
  change arrived (the back-off decides: the next attempt after it is back), and the
  checks: every change once (the duplicates counted: delivery is at least once), in order
  per demand, every signature valid and fresh.

The retry schedule is the platform's default (5 s doubling to 5 min, 30 attempts) unless
``--backoff``/``--cap`` say otherwise. Figures are printed, never asserted. Usage::

    python -m bench.callback_bench [--demands 100] [--down-seconds 600] [--clients 8]
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import statistics
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import requests

from onestop.localservers import free_port
from onestop.stack import Stack
from tests.factories import DEMO_DEMAND

ROOT = Path(__file__).resolve().parent.parent
LOOP = (("in_progress", {}), ("feedback", {}), ("closed", {"resolution": "solved"}))


def _verify() -> Any:
    spec = importlib.util.spec_from_file_location(
        "callback_receiver", ROOT / "examples" / "callback_receiver.py"
    )
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.verify


class Receiver:
    """The district system's receiver: verifies, records (event, receipt time)."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.secret = ""
        self.got: list[tuple[dict[str, Any], float]] = []
        self.refused = 0
        self.lock = threading.Lock()
        self.server: ThreadingHTTPServer | None = None
        self.verify = _verify()

    def start(self) -> None:
        outer = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["Content-Length"]))
                at = time.time()
                try:
                    event = outer.verify(outer.secret, self.headers, body)
                    with outer.lock:
                        outer.got.append((event, at))
                    self.send_response(204)
                except Exception:
                    with outer.lock:
                        outer.refused += 1
                    self.send_response(401)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        self.server.daemon_threads = True
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def stop(self) -> None:
        if self.server is not None:
            self.server.shutdown()
            self.server.server_close()
            self.server = None

    def of(self, codes: set[str]) -> list[tuple[dict[str, Any], float]]:
        with self.lock:
            return [(e, t) for e, t in self.got if e["payload"]["demand_code"] in codes]


_local = threading.local()


def _session(key: str) -> requests.Session:
    s = getattr(_local, "s", None)
    if s is None:
        s = _local.s = requests.Session()
        s.headers["Authorization"] = f"Bearer {key}"
    return s


def file_and_move(api: str, key: str, n: int, clients: int) -> list[str]:
    """File ``n`` demands, then move each round the loop (three status changes each)."""

    def one(_: int) -> str:
        s = _session(key)
        r = s.post(f"{api}/demands", json=DEMO_DEMAND, timeout=30)
        r.raise_for_status()
        code = r.json()["code"]
        for to, more in LOOP:
            r = s.post(f"{api}/demands/{code}/transitions", json={"to": to, **more}, timeout=30)
            r.raise_for_status()
        return code

    with ThreadPoolExecutor(clients) as pool:
        return list(pool.map(one, range(n)))


def wait_all(rx: Receiver, codes: set[str], expected: int, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if len({e["event_id"] for e, _ in rx.of(codes)}) >= expected:
            return True
        time.sleep(0.1)
    return False


def checks(rx: Receiver, codes: set[str]) -> dict[str, Any]:
    got = rx.of(codes)
    ids = [e["event_id"] for e, _ in got]
    first: dict[str, list[str]] = {}
    seen: set[str] = set()
    for e, _ in got:  # the order of first receipt, per demand
        if e["event_id"] in seen:
            continue
        seen.add(e["event_id"])
        first.setdefault(e["payload"]["demand_code"], []).append(e["payload"]["to_status"])
    in_order = [to for to, _ in LOOP]
    return {
        "changes_made": 3 * len(codes),
        "distinct_received": len(set(ids)),
        "duplicates": len(ids) - len(set(ids)),
        "every_change_once": len(set(ids)) == 3 * len(codes),
        "in_order_per_demand": all(first.get(c) == in_order for c in codes),
        "refused_signatures": rx.refused,
    }


def pct(values: list[float], q: float) -> float:
    return round(statistics.quantiles(values, n=100, method="inclusive")[q - 1], 1)


def delays(got: list[tuple[dict[str, Any], float]]) -> dict[str, float]:
    ms = [(t - datetime.fromisoformat(e["occurred_at"]).timestamp()) * 1000 for e, t in got]
    return {
        "p50": pct(ms, 50),
        "p95": pct(ms, 95),
        "p99": pct(ms, 99),
        "max": round(max(ms), 1),
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--demands", type=int, default=100, help="demands per phase (3 changes each)")
    ap.add_argument("--clients", type=int, default=8, help="concurrent HTTP clients")
    ap.add_argument("--down-seconds", type=float, default=600)
    ap.add_argument("--interval", type=float, default=None, help="ONESTOP_CALLBACK_INTERVAL")
    ap.add_argument("--backoff", type=float, default=None, help="ONESTOP_CALLBACK_BACKOFF")
    ap.add_argument("--cap", type=float, default=None, help="ONESTOP_CALLBACK_BACKOFF_CAP")
    a = ap.parse_args()
    env = {"ONESTOP_CALLBACK_LOOPBACK_HTTP": "1"}
    for name, value in (("INTERVAL", a.interval), ("BACKOFF", a.backoff), ("BACKOFF_CAP", a.cap)):
        if value is not None:
            env[f"ONESTOP_CALLBACK_{name}"] = str(value)
    stack = Stack(base=Path(tempfile.mkdtemp(prefix="onestop-callback-bench-")), extra_env=env)
    rx = Receiver(free_port())
    try:
        stack.start()
        creds = json.loads((stack.base / "data" / "demo-credentials.json").read_text())
        key = creds["district"]["key"]
        api = f"http://127.0.0.1:{stack.api_ports['intake']}/api/v1"
        r = requests.put(
            f"{api}/callback",
            json={"url": f"http://127.0.0.1:{rx.port}/cb"},
            headers={"Authorization": f"Bearer {key}"},
            timeout=30,
        )
        r.raise_for_status()
        rx.secret = r.json()["secret"]

        # live: the receiver up
        rx.start()
        t0 = time.time()
        live = set(file_and_move(api, key, a.demands, a.clients))
        moved = time.time() - t0
        arrived = wait_all(rx, live, 3 * a.demands, 120)
        got = rx.of(live)
        span = max(t for _, t in got) - t0
        live_report = {
            "demands": a.demands,
            "status_changes": 3 * a.demands,
            "changes_made_in_s": round(moved, 2),
            "all_arrived": arrived,
            "deliveries_per_s": round(len(got) / span, 1),
            "delay_ms_change_to_receipt": delays(got),
            **checks(rx, live),
        }

        # capacity: a backlog made while the intake worker is frozen, then drained
        stack.freeze("intake-worker")
        try:
            backlog = set(file_and_move(api, key, a.demands, a.clients))
        finally:
            thawed = time.time()
            stack.thaw("intake-worker")
        arrived = wait_all(rx, backlog, 3 * a.demands, 300)
        got = rx.of(backlog)
        capacity_report = {
            "backlog": 3 * a.demands,
            "all_arrived": arrived,
            "drained_in_s": round(max(t for _, t in got) - thawed, 2),
            "deliveries_per_s": round(len(got) / (max(t for _, t in got) - thawed), 1),
            **checks(rx, backlog),
        }

        # receiver down: connection refused for --down-seconds, changes made meanwhile
        rx.stop()
        down_at = time.time()
        down = set(file_and_move(api, key, a.demands, a.clients))
        time.sleep(max(0.0, a.down_seconds - (time.time() - down_at)))
        up_at = time.time()
        rx.start()
        cap = a.cap if a.cap is not None else 300.0
        arrived = wait_all(rx, down, 3 * a.demands, cap + 300)
        got = rx.of(down)
        firsts = sorted(t for _, t in got)
        down_report = {
            "down_seconds": round(up_at - down_at, 1),
            "demands": a.demands,
            "all_arrived": arrived,
            "first_receipt_after_up_s": round(firsts[0] - up_at, 1) if firsts else None,
            "all_received_after_up_s": round(firsts[-1] - up_at, 1) if firsts else None,
            **checks(rx, down),
        }
        report = {
            "shape": "stack: gunicorn gthread + worker per service, RabbitMQ, PostgreSQL",
            "settings": {k: v for k, v in env.items() if k.startswith("ONESTOP_CALLBACK")},
            "live": live_report,
            "capacity": capacity_report,
            "receiver_down": down_report,
        }
        print(json.dumps(report, ensure_ascii=False, indent=2))
    finally:
        rx.stop()
        stack.destroy()


if __name__ == "__main__":
    main()
