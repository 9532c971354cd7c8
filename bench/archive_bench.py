"""A large archive: build N chained events, verify them, export them in constant memory.

Prints one JSON report (figures only, nothing asserted):

* ``build``: how long writing N chained records took (bulk, outside the service);
* ``verify``: records checked per second by the same walk as ``onestop archive verify``;
* ``export``: the streaming JSONL export of all N records, in a fresh process, with its
  peak resident memory (``ru_maxrss``) next to that process's memory before exporting —
  constant memory shows as a peak that does not grow with N.

Usage: ``python -m bench.archive_bench [--events 1000000] [--db var/bench/archive.db]``.
"""

from __future__ import annotations

import argparse
import json
import resource
import sqlite3
import subprocess
import sys
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

from services.archive.domain import GENESIS, canonical, chain_hash, demand_code_of, subjects_of

TYPES = ("demand.accepted", "assignment.made", "demand.status_changed", "visit.logged")


def _settings(db: Path):  # type: ignore[no-untyped-def]
    from shared.config import load_settings

    return load_settings(
        {"ONESTOP_DATA_DIR": str(db.parent), "ONESTOP_ARCHIVE_DATABASE_URL": f"sqlite:///{db}"}
    )


def build(db: Path, n: int) -> float:
    from onestop import migrate

    if db.exists():
        db.unlink()
    db.parent.mkdir(parents=True, exist_ok=True)
    migrate.upgrade(_settings(db), ("archive",))
    started = time.perf_counter()
    conn = sqlite3.connect(db)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=OFF")
    prev = GENESIS
    t0 = datetime(2026, 1, 1, tzinfo=UTC)
    rows = []
    for i in range(1, n + 1):
        code = f"630102-2026-{(i // 4) % 1_000_000:06d}"
        envelope = {
            "event_id": str(uuid.UUID(int=i)),
            "event_type": TYPES[i % 4],
            "event_version": 1,
            "occurred_at": (t0 + timedelta(seconds=i)).isoformat(),
            "producer": "intake",
            "correlation_id": f"bench-{i // 4}",
            "jurisdiction": "630102",
            "payload": {
                "demand_code": code,
                "enterprise": {"credit_code": "91630102MA7522T5X6", "name": "青海高原新材料"},
                "title": "正极材料烧结工艺改进",
                "description": "需要改进锂电池正极材料烧结工艺，降低能耗。" * 2,
                "consent_to_share": bool(i % 2),
            },
        }
        body = canonical(envelope)
        h = chain_hash(prev, body)
        s = subjects_of(envelope["payload"])
        rows.append(
            (
                i,
                envelope["event_id"],
                envelope["event_type"],
                1,
                "intake",
                "630102",
                envelope["correlation_id"],
                demand_code_of(envelope["payload"]),
                s["credit_code"],
                s["staff_id"],
                s["agency_id"],
                envelope["occurred_at"],
                envelope["occurred_at"],
                body,
                prev,
                h,
            )
        )
        prev = h
        if len(rows) == 20_000:
            _flush(conn, rows)
    _flush(conn, rows)
    conn.execute(
        "INSERT INTO chain_head (id, length, last_seq, last_hash) VALUES (1, ?, ?, ?)",
        (n, n, prev),
    )
    conn.commit()
    conn.close()
    return time.perf_counter() - started


def _flush(conn: sqlite3.Connection, rows: list[tuple]) -> None:  # type: ignore[type-arg]
    conn.executemany(
        "INSERT INTO archived_events (seq, event_id, event_type, event_version, producer, "
        "jurisdiction, correlation_id, demand_code, credit_code, staff_id, agency_id, "
        "occurred_at, archived_at, body, prev_hash, hash) "
        "VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
        rows,
    )
    conn.commit()
    rows.clear()


def export_in_this_process(db: Path) -> None:
    """Run the real export generator to the end; print bytes, lines and peak RSS."""
    from services import archive
    from services.archive.exports import export

    svc = archive.build(_settings(db))
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    started = time.perf_counter()
    lines = size = 0
    for chunk in export(svc.uow(), None, {"format": "jsonl"}):
        lines += 1
        size += len(chunk)
    elapsed = time.perf_counter() - started
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    print(
        json.dumps(
            {
                "lines": lines,
                "mib": round(size / 2**20, 1),
                "seconds": round(elapsed, 1),
                "lines_per_second": round(lines / elapsed),
                "rss_before_mib": round(before / 1024, 1),
                "peak_rss_mib": round(peak / 1024, 1),
            }
        )
    )


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--events", type=int, default=1_000_000)
    ap.add_argument("--db", type=Path, default=Path("var/bench/archive.db"))
    ap.add_argument("--export-only", action="store_true", help=argparse.SUPPRESS)
    args = ap.parse_args()
    db = args.db.resolve()
    if args.export_only:
        export_in_this_process(db)
        return
    report: dict[str, object] = {"events": args.events}
    report["build_seconds"] = round(build(db, args.events), 1)
    from services import archive
    from services.archive.verification import verify

    result = verify(archive.build(_settings(db)).uow(), None)
    report["verify"] = {k: result[k] for k in ("ok", "checked", "seconds", "rate_per_second")}
    out = subprocess.run(
        [sys.executable, "-m", "bench.archive_bench", "--export-only", "--db", str(db)],
        capture_output=True,
        text=True,
        check=True,
    )
    report["export"] = json.loads(out.stdout.strip().splitlines()[-1])
    report["db_mib"] = round(db.stat().st_size / 2**20, 1)
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
