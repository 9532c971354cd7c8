"""Scoring's consumers working off a backlog, this tree beside another, on PostgreSQL.

Each run makes a fresh scoring database on one durable PostgreSQL, migrates it with the
tree's own migrations, and feeds it the events of ``--demands`` demands the way the worker
takes them off the broker under load: queue by queue (``demand.accepted``, the owner's
``assignment.made``, ``demand.screened``, two ``demand.status_changed`` — in progress,
closed —, an agency's ``assignment.made``, ``demand.revisited``), ``--batch`` events at a
time applied in one transaction through the inbox (``Inbox.apply_batch``, what the
consumer calls). It reports events/s and the CPU per event of the applying process and of
PostgreSQL. Rounds alternate between the trees; the figures are printed, never asserted.

    .venv/bin/python -m bench.scoring_bench --baseline /tmp/scoring-old [--demands 2000]

(``git worktree add /tmp/scoring-old <commit>`` makes the baseline tree; both run with this
venv.)
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent


def run(url: str, pg_pid: int, demands: int, batch: int) -> dict[str, Any]:
    """One run in this process, against the tree on ``sys.path``."""
    import resource

    import services
    from bench.intake_bench import _cpu_seconds
    from onestop import migrate
    from services import scoring
    from services.scoring import handlers as h
    from shared.config import load_settings
    from tests.unit.scoring.test_scorecards import (
        accepted,
        agency,
        at,
        owner,
        revisited,
        screened,
        status,
    )

    with tempfile.TemporaryDirectory() as data:
        settings = load_settings({"ONESTOP_DATA_DIR": data, "ONESTOP_SCORING_DATABASE_URL": url})
        migrate.upgrade(settings, ("scoring",))
        svc = scoring.build(settings)
        svc.relay.notify = lambda: None  # type: ignore[method-assign]
        codes = [f"630102-2026-{i:06d}" for i in range(1, demands + 1)]
        queues = [
            (h.on_demand_accepted, [accepted(c, when=at(1 + i % 20)) for i, c in enumerate(codes)]),
            (h.on_assignment_made, [owner(c, when=at(2 + i % 20)) for i, c in enumerate(codes)]),
            (h.on_demand_screened, [screened(c, when=at(3 + i % 20)) for i, c in enumerate(codes)]),
            (
                h.on_demand_status_changed,
                [
                    status(c, "accepted", "in_progress", when=at(4 + i % 20))
                    for i, c in enumerate(codes)
                ]
                + [
                    status(
                        c,
                        "feedback",
                        "closed",
                        when=at(6 + i % 20),
                        resolution="solved",
                        on_time=i % 3 > 0,
                    )
                    for i, c in enumerate(codes)
                ],
            ),
            (h.on_assignment_made, [agency(c, when=at(5 + i % 20)) for i, c in enumerate(codes)]),
            (
                h.on_demand_revisited,
                [revisited(c, 1 + i % 5, when=at(7 + i % 20)) for i, c in enumerate(codes)],
            ),
        ]
        count = sum(len(events) for _, events in queues)
        pg0 = _cpu_seconds({"pg": pg_pid})["pg"]
        cpu0, t0 = resource.getrusage(resource.RUSAGE_SELF), time.monotonic()
        for handler, events in queues:
            consumer = f"scoring.{handler.__name__}"
            for i in range(0, len(events), batch):
                svc.inbox.apply_batch(svc.uow, consumer, events[i : i + batch], handler)
        seconds = time.monotonic() - t0
        cpu1, pg1 = resource.getrusage(resource.RUSAGE_SELF), _cpu_seconds({"pg": pg_pid})["pg"]
        svc.db.dispose()
    own = (cpu1.ru_utime - cpu0.ru_utime) + (cpu1.ru_stime - cpu0.ru_stime)
    return {
        "tree": str(Path(services.__file__).parent.parent),
        "events": count,
        "seconds": round(seconds, 2),
        "events_per_second": round(count / seconds, 1),
        "cpu_ms_per_event": {
            "worker": round(own * 1000 / count, 3),
            "postgres": round((pg1 - pg0) * 1000 / count, 3),
        },
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--baseline", type=Path, help="a worktree of the commit to compare with")
    ap.add_argument("--demands", type=int, default=2000)
    ap.add_argument("--batch", type=int, default=50, help="events per transaction (consumer)")
    ap.add_argument("--rounds", type=int, default=3)
    a = ap.parse_args()
    from onestop.localservers import Postgres

    trees = {"after": ROOT}
    if a.baseline:
        trees = {"before": a.baseline.resolve(), **trees}
    pg = Postgres().start()
    assert pg.proc is not None
    pid = pg.proc.pid
    runs: dict[str, list[dict[str, Any]]] = {k: [] for k in trees}
    try:
        for r in range(a.rounds):
            for label, tree in trees.items():
                url = pg.create_database(f"sb_{label}_{r}_{uuid.uuid4().hex[:6]}")
                out = subprocess.run(
                    [sys.executable, __file__, "run", url, str(pid), str(a.demands), str(a.batch)],
                    cwd=tree,
                    env={**os.environ, "PYTHONPATH": str(tree)},
                    capture_output=True,
                    text=True,
                    check=True,
                )
                runs[label].append(json.loads(out.stdout.strip().splitlines()[-1]))
                print(label, runs[label][-1], file=sys.stderr, flush=True)
    finally:
        pg.destroy()
    median = {k: statistics.median(x["events_per_second"] for x in v) for k, v in runs.items()}
    cpu = {
        k: {
            part: round(statistics.median(x["cpu_ms_per_event"][part] for x in v), 3)
            for part in ("worker", "postgres")
        }
        for k, v in runs.items()
    }
    report: dict[str, Any] = {
        "shape": f"scoring's handlers through the inbox, {a.batch} events per transaction, "
        "durable PostgreSQL, one process",
        "trees": {k: str(v) for k, v in trees.items()},
        "events_per_second_median": median,
        "cpu_ms_per_event_median": cpu,
        "runs": runs,
    }
    if "before" in median:
        report["after_over_before"] = round(median["after"] / median["before"], 2)
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    if len(sys.argv) == 6 and sys.argv[1] == "run":
        print(json.dumps(run(sys.argv[2], int(sys.argv[3]), int(sys.argv[4]), int(sys.argv[5]))))
    else:
        main()
