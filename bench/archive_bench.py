"""A large archive: build N chained events, verify them, export them in constant memory.

Prints one JSON report (figures only, nothing asserted):

* ``build``: how long writing N chained records took (bulk, outside the service);
* ``verify``: records per second (wall clock, and per second of this process's CPU: the
  machine is shared, and SQLite works in this process) of
  - ``first_verify``: the first verify, which checks every record from its body and
    records a checkpoint;
  - ``full_walk``: ``verify(full=True)`` over the checkpointed chain (every record
    re-checked from its stored bytes), in rounds interleaved with
  - ``baseline_walk``: the walk verify did before checkpoints (each record parsed,
    re-serialised and its subjects recomputed; kept here only as the yardstick), and
    their ratio (best round against best round);
  - ``routine_verify``: after appending N/100 more records, the default verify: from the
    newest checkpoint, it walks only those (``walked``; ``checked`` is the chain's length
    it vouches for);
* with ``--postgres``, the verify figures again on a throwaway local PostgreSQL holding
  the same records (where the database's work runs in its own process);
* ``export``: the streaming JSONL export of all N records, in a fresh process, with its
  peak resident memory (``ru_maxrss``) next to that process's memory before exporting —
  constant memory shows as a peak that does not grow with N.

Usage: ``python -m bench.archive_bench [--events 1000000] [--rounds 3] [--postgres]
[--db var/bench/archive.db]``.
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
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

from services.archive.domain import GENESIS, canonical, chain_hash, demand_code_of, subjects_of

if TYPE_CHECKING:
    from shared.config import Settings

TYPES = ("demand.accepted", "assignment.made", "demand.status_changed", "visit.logged")


def _settings(db: Path) -> Settings:
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
    return append(db, n)


def append(db: Path, n: int) -> float:
    """Append ``n`` chained records after the chain's head (bulk, outside the service)."""
    started = time.perf_counter()
    conn = sqlite3.connect(db)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=OFF")
    head = conn.execute("SELECT length, last_hash FROM chain_head WHERE id = 1").fetchone()
    first, prev = (head[0] + 1, head[1]) if head else (1, GENESIS)
    t0 = datetime(2026, 1, 1, tzinfo=UTC)
    rows = []
    for i in range(first, first + n):
        code = f"630102-2026-{(i // 4) % 1_000_000:06d}"
        envelope: dict[str, Any] = {
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
    last = first + n - 1
    conn.execute(
        "INSERT INTO chain_head (id, length, last_seq, last_hash) VALUES (1, ?, ?, ?) "
        "ON CONFLICT (id) DO UPDATE SET length = excluded.length, "
        "last_seq = excluded.last_seq, last_hash = excluded.last_hash",
        (last, last, prev),
    )
    conn.commit()
    conn.close()
    return time.perf_counter() - started


def _flush(conn: sqlite3.Connection, rows: list[tuple[Any, ...]]) -> None:
    conn.executemany(
        "INSERT INTO archived_events (seq, event_id, event_type, event_version, producer, "
        "jurisdiction, correlation_id, demand_code, credit_code, staff_id, agency_id, "
        "occurred_at, archived_at, body, prev_hash, hash) "
        "VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
        rows,
    )
    conn.commit()
    rows.clear()


# --- verify ---------------------------------------------------------------------------------


def _timed(fn: Callable[[], dict[str, Any]]) -> tuple[dict[str, Any], float, float]:
    """``fn()``, its wall-clock seconds and this process's CPU seconds."""
    wall, cpu = time.perf_counter(), time.process_time()
    result = fn()
    return result, time.perf_counter() - wall, time.process_time() - cpu


def _rates(n: int, wall: float, cpu: float) -> dict[str, Any]:
    return {
        "seconds": round(wall, 3),
        "rate_per_second": round(n / wall),
        "cpu_rate_per_second": round(n / cpu) if cpu > 0 else None,
    }


def verify_figures(
    settings: Settings, n: int, rounds: int, append_more: Callable[[int], object]
) -> dict[str, Any]:
    """The verify figures over the archive of ``settings`` holding ``n`` records;
    ``append_more(k)`` appends ``k`` more for the routine verify."""
    from services import archive
    from services.archive.verification import verify

    uow = archive.build(settings).uow()
    figures: dict[str, Any] = {}
    first, wall, cpu = _timed(lambda: verify(uow, None))
    assert first["ok"] and first["checked"] == n, first
    figures["first_verify"] = {"walked": first["walked"], **_rates(n, wall, cpu)}
    full_rounds, base_rounds = [], []
    for _ in range(rounds):  # interleaved: the shared machine's load hits both alike
        result, wall, cpu = _timed(lambda: baseline_verify(uow))
        assert result["ok"] and result["checked"] == n, result
        base_rounds.append((wall, cpu))
        result, wall, cpu = _timed(lambda: verify(uow, None, full=True))
        assert result["ok"] and result["walked"] == n, result
        full_rounds.append((wall, cpu))
    best_full, best_base = min(full_rounds), min(base_rounds)
    figures["full_walk"] = {
        "rounds_seconds": [round(w, 3) for w, _ in full_rounds],
        **_rates(n, *best_full),
    }
    figures["baseline_walk"] = {
        "rounds_seconds": [round(w, 3) for w, _ in base_rounds],
        **_rates(n, *best_base),
    }
    figures["full_walk_vs_baseline"] = round(best_base[0] / best_full[0], 1)
    more = max(n // 100, 1)
    append_more(more)
    result, wall, cpu = _timed(lambda: verify(uow, None))
    assert result["ok"] and result["walked"] == more, result
    figures["routine_verify"] = {
        "appended": more,
        "walked": result["walked"],
        "checked": result["checked"],
        **_rates(more, wall, cpu),
        "checked_per_second": round(result["checked"] / wall),
    }
    return figures


def postgres_figures(db: Path, n: int, rounds: int) -> dict[str, Any]:
    """``verify_figures`` on a throwaway local PostgreSQL, its records copied (COPY) from
    the SQLite build: the first ``n``, then the rest for the routine verify."""
    from onestop import migrate
    from onestop.localservers import Postgres
    from shared.config import load_settings

    pg = Postgres(durable=False).start()  # nothing to keep after a crash
    try:
        url = pg.create_database("archive_bench")
        env = {"ONESTOP_DATA_DIR": str(db.parent), "ONESTOP_ARCHIVE_DATABASE_URL": url}
        settings = load_settings(env)
        migrate.upgrade(settings, ("archive",))
        dsn = url.replace("postgresql+psycopg://", "postgresql://")
        started = time.perf_counter()
        _copy_to_postgres(db, dsn, 0, n)
        copied = round(time.perf_counter() - started, 1)
        figures = verify_figures(
            settings, n, rounds, lambda k: _copy_to_postgres(db, dsn, n, n + k)
        )
        return {"copy_seconds": copied, **figures}
    finally:
        pg.destroy()


COLUMNS = (
    "seq, event_id, event_type, event_version, producer, jurisdiction, correlation_id, "
    "demand_code, credit_code, staff_id, agency_id, occurred_at, archived_at, body, "
    "prev_hash, hash"
)


def _copy_to_postgres(db: Path, dsn: str, after: int, upto: int) -> None:
    """Copy the SQLite records after ``after`` through ``upto`` to PostgreSQL, and move
    the head there."""
    import psycopg

    source = sqlite3.connect(db)
    rows = source.execute(
        f"SELECT {COLUMNS} FROM archived_events WHERE seq > ? AND seq <= ? ORDER BY seq",
        (after, upto),
    )
    last = None
    with psycopg.connect(dsn) as conn:
        with conn.cursor().copy(f"COPY archived_events ({COLUMNS}) FROM STDIN") as copy:
            for row in rows:
                copy.write_row(row)
                last = row
        assert last is not None and last[0] == upto
        conn.execute(
            "INSERT INTO chain_head (id, length, last_seq, last_hash) VALUES (1, %s, %s, %s) "
            "ON CONFLICT (id) DO UPDATE SET length = excluded.length, "
            "last_seq = excluded.last_seq, last_hash = excluded.last_hash",
            (upto, upto, last[-1]),
        )
        conn.commit()
        conn.execute("ANALYZE archived_events")  # as autovacuum would, after a bulk load
    source.close()


def baseline_verify(uow: Any) -> dict[str, Any]:
    """The walk verify made before checkpoints (for the ratio only): every record read
    through SQLAlchemy rows, its body parsed, re-serialised and compared, its subjects
    recomputed for each indexed column, then the head."""
    from sqlalchemy import select

    from services.archive.domain import Link, Walked, head_mismatch
    from services.archive.models import archived_events as t
    from services.archive.verification import INDEXED, read_head

    def check(prev: str, link: Link) -> str | None:
        if link.prev_hash != prev:
            return "does not follow"
        if chain_hash(link.prev_hash, link.body) != link.hash:
            return "edited"
        envelope = json.loads(link.body)
        if canonical(envelope) != link.body:
            return "not canonical"
        payload = envelope.get("payload") or {}
        for name, value in link.columns.items():
            if name == "demand_code":
                want = demand_code_of(payload)
            elif name in ("credit_code", "staff_id", "agency_id"):
                want = subjects_of(payload)[name]
            else:
                want = envelope.get(name)
            if want != value:
                return f"indexed {name}"
        return None

    def links(upto: int) -> Iterator[Link]:
        cols = [t.c[c] for c in INDEXED if c != "event_id"]
        last = 0
        while True:
            with uow.read() as s:
                query = select(t.c.seq, t.c.event_id, t.c.body, t.c.prev_hash, t.c.hash, *cols)
                query = query.where(t.c.seq <= upto, t.c.seq > last).order_by(t.c.seq)
                rows = s.execute(query.limit(2000)).all()
            if not rows:
                return
            for r in rows:
                columns = {c: getattr(r, c) for c in INDEXED}
                yield Link(r.seq, r.event_id, r.body, r.prev_hash, r.hash, columns)
            last = rows[-1].seq

    head = read_head(uow)
    assert head is not None
    prev, checked = GENESIS, 0
    for link in links(head.last_seq):
        if check(prev, link):
            break
        prev, checked = link.hash, checked + 1
    ok = checked == head.length and head_mismatch(head, Walked(checked, prev, None)) is None
    return {"ok": ok, "checked": checked}


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
    ap.add_argument("--rounds", type=int, default=3, help="full walk vs baseline rounds")
    ap.add_argument("--db", type=Path, default=Path("var/bench/archive.db"))
    ap.add_argument(
        "--postgres",
        action="store_true",
        help="the verify figures again on a throwaway PostgreSQL holding the same records",
    )
    ap.add_argument("--export-only", action="store_true", help=argparse.SUPPRESS)
    args = ap.parse_args()
    db = args.db.resolve()
    if args.export_only:
        export_in_this_process(db)
        return
    report: dict[str, object] = {"events": args.events}
    report["build_seconds"] = round(build(db, args.events), 1)
    report["verify"] = verify_figures(
        _settings(db), args.events, args.rounds, lambda k: append(db, k)
    )
    if args.postgres:
        report["verify_on_postgres"] = postgres_figures(db, args.events, args.rounds)
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
