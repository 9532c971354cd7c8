"""Benchmark on the stack shape (gunicorn + workers, RabbitMQ, PostgreSQL).

Prints one JSON report:

* ``throughput``: demands/s accepted by intake over HTTP, side by side with a
  bare Flask JSON endpoint under the same gunicorn settings and the same
  client, and their ratio;
* ``latency_ms``: from the HTTP 201 to the ``assignment.made`` event of that
  demand being consumed downstream (a probe queue bound like any consumer),
  p50/p95/p99 at a fixed offered rate;
* ``peak_rss_mb``: peak resident memory (VmHWM) of every process.

Figures are printed, never asserted. Usage: ``make bench`` or
``python -m bench.stack_bench --seconds 10 --rate 20 --clients 8``.
"""

from __future__ import annotations

import argparse
import contextlib
import http.client
import json
import os
import statistics
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from multiprocessing import Pool
from pathlib import Path

from kombu import Connection, Queue

from onestop.stack import Stack
from shared.messaging import exchange_for

DEMAND = {
    "enterprise": {"credit_code": "91630102MA7522T5X6", "name": "青海高原新材料科技有限公司"},
    "category": "technology",
    "title": "正极材料烧结工艺改进",
    "description": "需要改进锂电池正极材料烧结工艺，降低能耗。",
    "source": "online",
}


def _client(args: tuple[int, str, str, float]) -> tuple[int, int]:
    """One client process: keep-alive POSTs until the deadline; (ok, errors)."""
    port, path, key, deadline = args
    body = json.dumps(DEMAND).encode()
    headers = {"Content-Type": "application/json", "Authorization": f"Bearer {key}"}
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    ok = err = 0
    while time.time() < deadline:
        try:
            conn.request("POST", path, body, headers)
            resp = conn.getresponse()
            resp.read()
            if resp.status == 201:
                ok += 1
            else:
                err += 1
        except (OSError, http.client.HTTPException):
            err += 1
            conn.close()
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    conn.close()
    return ok, err


def throughput(port: int, path: str, key: str, seconds: float, clients: int) -> dict:
    deadline = time.time() + seconds
    with Pool(clients) as pool:
        results = pool.map(_client, [(port, path, key, deadline)] * clients)
    ok = sum(r[0] for r in results)
    return {
        "requests_ok": ok,
        "errors": sum(r[1] for r in results),
        "per_second": round(ok / seconds, 1),
    }


def latency(stack: Stack, key: str, rate: float, count: int) -> dict:
    """Offer ``rate`` demands/s; time each 201 → its assignment.made consumed."""
    consumed: dict[str, float] = {}
    ready = threading.Event()
    stop = threading.Event()

    def consume() -> None:
        with Connection(stack.broker_url) as conn:
            q = Queue(
                "bench.probe",
                exchange=exchange_for("dispatch"),
                routing_key="assignment.made.#",
                auto_delete=True,
                durable=False,
            )

            def on_message(body, message):
                consumed[json.loads(message.body)["payload"]["demand_code"]] = time.monotonic()
                message.ack()

            with conn.Consumer([q], callbacks=[on_message], accept=["json"]):
                ready.set()
                while not stop.is_set():
                    with contextlib.suppress(TimeoutError):
                        conn.drain_events(timeout=0.2)

    t = threading.Thread(target=consume, daemon=True)
    t.start()
    ready.wait(10)
    accepted: dict[str, float] = {}
    body = json.dumps(DEMAND).encode()
    port = stack.api_ports["intake"]

    def one() -> None:
        c = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        c.request(
            "POST",
            "/api/v1/demands",
            body,
            {"Content-Type": "application/json", "Authorization": f"Bearer {key}"},
        )
        r = c.getresponse()
        data = r.read()
        if r.status == 201:
            accepted[json.loads(data)["code"]] = time.monotonic()
        c.close()

    start = time.monotonic()
    with ThreadPoolExecutor(16) as pool:
        for i in range(count):
            due = start + i / rate
            time.sleep(max(0.0, due - time.monotonic()))
            pool.submit(one)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and not set(accepted) <= set(consumed):
        time.sleep(0.05)
    stop.set()
    t.join(5)
    lat = sorted((consumed[c] - accepted[c]) * 1000 for c in accepted if c in consumed)
    if not lat:
        return {"error": "no assignment consumed"}
    q = statistics.quantiles(lat, n=100)
    return {
        "offered_per_second": rate,
        "demands": count,
        "measured": len(lat),
        "missing": len(accepted) - len(lat),
        "p50": round(q[49], 1),
        "p95": round(q[94], 1),
        "p99": round(q[98], 1),
        "max": round(lat[-1], 1),
    }


def wait_quiet(stack: Stack, timeout: float = 120) -> None:
    """Wait until every consumer queue is empty (the backlog has been worked off)."""
    from shared.messaging import connect

    queues = [
        "dispatch.on_demand_accepted",
        "intake.on_assignment_made",
        "visits.on_assignment_made",
        "scoring.on_assignment_made",
        "archive.all_events",
    ]
    deadline = time.monotonic() + timeout
    with connect(stack.broker_url or "") as conn:
        ch = conn.default_channel
        while time.monotonic() < deadline:
            if all(ch.queue_declare(queue=q, passive=True).message_count == 0 for q in queues):
                return
            time.sleep(0.5)


def _children(pid: int) -> list[int]:
    out = []
    for task in Path(f"/proc/{pid}/task").glob("*"):
        with contextlib.suppress(OSError):
            out += [int(x) for x in (task / "children").read_text().split()]
    return out


def _hwm_mb(pid: int) -> float:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return round(int(line.split()[1]) / 1024, 1)
    except OSError:
        pass
    return 0.0


def _cpu_seconds(pid: int) -> float:
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    except OSError:
        return 0.0


def _tree(pid: int) -> list[int]:
    out = [pid]
    for child in _children(pid):
        out += _tree(child)
    return out


def cpu_snapshot(stack: Stack) -> dict[str, float]:
    """CPU seconds used so far by each process tree (services, PostgreSQL, RabbitMQ)."""
    roots = {key: proc.pid for key, proc in stack.procs.items()}
    if stack.pg and stack.pg.proc:
        roots["postgresql"] = stack.pg.proc.pid
    if stack.mq and stack.mq.proc:
        roots["rabbitmq"] = stack.mq.proc.pid
    return {key: sum(_cpu_seconds(p) for p in _tree(pid)) for key, pid in roots.items()}


def cpu_delta(before: dict[str, float], after: dict[str, float]) -> dict[str, float]:
    return {
        k: round(after[k] - before.get(k, 0.0), 2)
        for k in after
        if after[k] - before.get(k, 0.0) >= 0.01
    }


def peak_rss(stack: Stack) -> dict:
    report = {}
    for key, proc in stack.procs.items():
        pids = [proc.pid, *_children(proc.pid)]
        report[key] = {str(p): _hwm_mb(p) for p in pids}
    return report


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--seconds", type=float, default=10)
    ap.add_argument("--clients", type=int, default=8)
    ap.add_argument("--rate", type=float, default=20, help="offered demands/s for latency")
    ap.add_argument("--count", type=int, default=300, help="demands for the latency run")
    ap.add_argument("--workers", type=int, default=2, help="gunicorn workers per API")
    ap.add_argument("--threads", type=int, default=4, help="gunicorn threads per worker")
    a = ap.parse_args()
    stack = Stack(
        base=Path(tempfile.mkdtemp(prefix="onestop-bench-")),
        gunicorn_workers=a.workers,
        gunicorn_threads=a.threads,
    )
    try:
        stack.start()
        bare_port = stack.start_api("bare", app="bench.bare_app:create_app()")
        key = json.loads((stack.base / "data" / "demo-credentials.json").read_text())["district"][
            "key"
        ]
        bare = throughput(bare_port, "/api/v1/demands", key, a.seconds, a.clients)
        cpu0 = cpu_snapshot(stack)
        intake = throughput(stack.api_ports["intake"], "/api/v1/demands", key, a.seconds, a.clients)
        time.sleep(2)  # let the backlog of the throughput run drain
        cpu = cpu_delta(cpu0, cpu_snapshot(stack))
        # The same run with the five workers frozen: what intake alone (HTTP,
        # PostgreSQL, outbox relay with confirms) does when it has the machine.
        workers = [k for k in stack.procs if k.endswith("-worker")]
        for k in workers:
            stack.freeze(k)
        try:
            alone = throughput(
                stack.api_ports["intake"], "/api/v1/demands", key, a.seconds, a.clients
            )
        finally:
            for k in workers:
                stack.thaw(k)
        wait_quiet(stack)
        lat = latency(stack, key, a.rate, a.count)
        report = {
            "shape": "stack: gunicorn gthread + worker per service, RabbitMQ, PostgreSQL",
            "gunicorn": {"workers": a.workers, "threads": a.threads},
            "client": {"processes": a.clients, "seconds": a.seconds, "keep_alive": True},
            "throughput": {
                "intake_demands": intake,
                "bare_flask_json": bare,
                "ratio_intake_to_bare": round(intake["per_second"] / bare["per_second"], 3)
                if bare["per_second"]
                else None,
                "intake_demands_workers_frozen": alone,
                "ratio_intake_alone_to_bare": round(alone["per_second"] / bare["per_second"], 3)
                if bare["per_second"]
                else None,
            },
            "cpu_seconds_during_intake_run": cpu,
            "latency_ms_201_to_assignment_consumed": lat,
            "peak_rss_mb": peak_rss(stack),
        }
        print(json.dumps(report, ensure_ascii=False, indent=2))
    finally:
        stack.destroy()


if __name__ == "__main__":
    main()
