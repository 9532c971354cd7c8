"""Backup and restore of a platform whose archive holds N chained events.

Builds the N records fast (``bench.archive_bench``: bulk SQLite, then COPY into a
throwaway local PostgreSQL, durable settings as in production), migrates the other five
databases, then times ``onestop.backup.backup`` into a bundle and ``onestop.backup.restore``
of it into a second, empty PostgreSQL — the restore including its full walk of the chain.
The source chain is verified once before the backup (as on a platform whose operators run
``onestop archive verify``), so the dump holds a checkpoint and the restore's full walk
checks the stored bytes against it; ``--no-checkpoint`` leaves the chain unverified, and
the restore's walk then checks every record from its body (the slow path).
Prints one JSON report (figures only, nothing asserted). The broker is left out (the
embedded transport): its definitions are a few kilobytes.

Usage: ``python -m bench.backup_bench [--events 1000000] [--no-checkpoint]
[--work var/bench/backup]``.
"""

from __future__ import annotations

import argparse
import json
import shutil
import time
from pathlib import Path
from typing import Any

from bench.archive_bench import _copy_to_postgres
from bench.archive_bench import build as build_sqlite
from onestop.localservers import DATABASES, Postgres


def _settings(pg: Postgres, data: Path) -> Any:
    from shared.config import load_settings

    env = {f"ONESTOP_{n.upper()}_DATABASE_URL": pg.url(n) for n in DATABASES}
    return load_settings({"ONESTOP_DATA_DIR": str(data), **env})


def run(events: int, work: Path, checkpoint: bool = True) -> dict[str, Any]:
    from onestop import migrate
    from onestop.backup import backup, restore

    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    report: dict[str, Any] = {"events": events}
    started = time.perf_counter()
    build_sqlite(work / "archive.db", events)
    report["build_sqlite_seconds"] = round(time.perf_counter() - started, 1)
    source, target = Postgres(), Postgres()
    try:
        source.start()
        settings = _settings(source, work / "var")
        migrate.upgrade(settings)
        started = time.perf_counter()
        dsn = source.url("archive").replace("postgresql+psycopg://", "postgresql://")
        _copy_to_postgres(work / "archive.db", dsn, 0, events)
        report["copy_to_postgres_seconds"] = round(time.perf_counter() - started, 1)
        (work / "archive.db").unlink()
        if checkpoint:
            from onestop.backup import verify_chain

            started = time.perf_counter()
            head = {"length": events, "last_seq": events}
            checked = verify_chain(settings, {**head, "last_hash": _last_hash(settings)})
            assert checked["checked"] == events
            report["source_first_verify_seconds"] = round(time.perf_counter() - started, 1)

        started = time.perf_counter()
        bundle = backup(settings, work / "backups", say=lambda _: None)
        report["backup_seconds"] = round(time.perf_counter() - started, 1)
        files = {p.name: p.stat().st_size for p in bundle.iterdir()}
        report["bundle_bytes"] = sum(files.values())
        report["archive_dump_bytes"] = files["archive.dump"]

        target.start()
        lines: list[tuple[float, str]] = []
        started = time.perf_counter()
        restored = restore(
            _settings(target, work / "var2"),
            bundle,
            say=lambda line: lines.append((time.perf_counter() - started, line)),
        )
        report["restore_seconds"] = round(time.perf_counter() - started, 1)
        report["restore_databases_seconds"] = {
            n: d["seconds"] for n, d in restored["databases"].items()
        }
        walk_started = next(t for t, line in lines if line.startswith("restored archive"))
        report["restore_chain_walk_seconds"] = round(report["restore_seconds"] - walk_started, 1)
        report["chain_checked"] = restored["archive"]["checked"]
    finally:
        source.destroy()
        target.destroy()
    return report


def _last_hash(settings: Any) -> str:
    from services import archive
    from services.archive.verification import read_head

    head = read_head(archive.build(settings).uow())
    assert head is not None
    return head.last_hash


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--work", type=Path, default=Path("var/bench/backup"))
    parser.add_argument("--no-checkpoint", action="store_true")
    args = parser.parse_args()
    print(json.dumps(run(args.events, args.work, not args.no_checkpoint), indent=2))


if __name__ == "__main__":
    main()
