"""Agency dispatch decisions per second, on SQLite and on PostgreSQL.

Feeds ``demand.accepted`` events for market service items straight into the
dispatch handler (through the inbox, as the worker does): each one takes the
city lock, reads the month's tally, decides, and writes the owner assignment,
the decision, the order and three outbox rows. With ``--workers 2`` on
PostgreSQL, two threads with their own engines contend for the same city lock.

Prints one JSON report; figures are never asserted. Usage:
``python -m bench.dispatch_bench [--events 2000] [--workers 2]``.
"""

from __future__ import annotations

import argparse
import json
import tempfile
import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from onestop import demo, migrate
from onestop.localservers import Postgres
from services import dispatch
from services.dispatch.consumers import on_demand_accepted
from services.dispatch.seed import seed_responsibility
from shared.config import SERVICES, load_settings
from shared.events import make_event

ITEMS = [
    ("ip_filing", "patent"),
    ("finance_matching", "finance"),
    ("product_rd", "rd"),
    ("project_application", "general"),
    ("ip_portfolio", "patent"),
]


def events(n: int, offset: int) -> list:
    due = (datetime.now(UTC) + timedelta(days=5)).isoformat()
    out = []
    for i in range(n):
        item, category = ITEMS[i % len(ITEMS)]
        out.append(
            make_event(
                "demand.accepted",
                1,
                producer="intake",
                jurisdiction="630102",
                payload={
                    "demand_code": f"630102-2026-{offset + i:06d}",
                    "enterprise": {"credit_code": "91630102MA7522T5X6", "name": "青海高原新材料"},
                    "category": "ip",
                    "title": "t",
                    "description": "d",
                    "source": "online",
                    "consent_to_share": False,
                    "accepted_at": datetime.now(UTC).isoformat(),
                    "accepted_by": "bench",
                    "service_item": item,
                    "agency_category": category,
                    "expected_at": due,
                },
            )
        )
    return out


def run(settings, n: int, workers: int) -> dict:
    migrate.upgrade(settings, ("dispatch",))
    svcs = [dispatch.build(settings) for _ in range(workers)]
    for s in svcs:
        s.relay.notify = lambda: None  # measure the decision, not the publishing
    seed_responsibility(
        svcs[0].uow(),
        demo.DEPARTMENTS,
        demo.STAFF,
        demo.AGENCIES,
        "630100",
        leaders=demo.LEADERS,
        menu=demo.MENU,
    )
    evs = events(n, 1)
    chunks = [evs[i::workers] for i in range(workers)]
    barrier = threading.Barrier(workers + 1)
    latencies: list[float] = []

    def go(svc, mine):
        barrier.wait()
        for ev in mine:
            t = time.perf_counter()
            svc.inbox.apply(svc.uow, "dispatch.on_demand_accepted", ev, on_demand_accepted)
            latencies.append(time.perf_counter() - t)

    threads = [threading.Thread(target=go, args=(s, c)) for s, c in zip(svcs, chunks, strict=True)]
    for t in threads:
        t.start()
    barrier.wait()
    start = time.perf_counter()
    for t in threads:
        t.join()
    elapsed = time.perf_counter() - start
    latencies.sort()
    return {
        "events": n,
        "workers": workers,
        "decisions_per_s": round(n / elapsed, 1),
        "p50_ms": round(latencies[len(latencies) // 2] * 1000, 2),
        "p99_ms": round(latencies[int(len(latencies) * 0.99)] * 1000, 2),
    }


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--events", type=int, default=2000)
    ap.add_argument("--workers", type=int, default=2)
    args = ap.parse_args()
    report = {}
    with tempfile.TemporaryDirectory() as tmp:
        report["sqlite_1_worker"] = run(load_settings({"ONESTOP_DATA_DIR": tmp}), args.events, 1)
    pg = Postgres(base=Path(tempfile.mkdtemp(prefix="onestop-bench-pg-"))).start()
    try:
        for workers in sorted({1, args.workers}):
            env = {"ONESTOP_DATA_DIR": tempfile.mkdtemp()}
            for name in SERVICES:
                env[f"ONESTOP_{name.upper()}_DATABASE_URL"] = pg.create_database(
                    f"b{workers}_{name}"
                )
            report[f"postgres_{workers}_workers"] = run(load_settings(env), args.events, workers)
    finally:
        pg.destroy()
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
