"""Backup and restore of the whole platform: ``onestop backup`` and ``onestop restore``.

A bundle is one directory ``onestop-backup-<UTC time>/`` (mode 0700, files 0600):

* ``<service>.dump`` per service database — ``pg_dump --format=custom`` on PostgreSQL,
  or ``<service>.sqlite3`` made with SQLite's online backup API on the embedded default;
* ``rabbitmq-definitions.json`` — the broker's ``GET /api/definitions`` (users with their
  password hashes, agency users included; vhosts, permissions, queues, exchanges,
  bindings), absent on the embedded default (no broker users there);
* ``manifest.json`` — format, versions, alembic heads per database, each snapshot's time,
  the archive chain's head *as the archive's dump sees it*, the messages waiting in each
  queue at backup time, and the size and sha256 of every file; ``manifest.sha256`` holds
  the manifest's own sha256, so one changed byte anywhere is caught.

Consistency: on PostgreSQL every database's snapshot is taken first, one right after the
other (``pg_export_snapshot`` in a REPEATABLE READ transaction each, held open), and each
``pg_dump --snapshot`` dumps exactly that state; the chain head is read in the archive's
snapshot transaction, so it is the head of the dumped chain, not "about then".

Restore checks every hash before it writes anything, refuses a database that already has
tables (``--force`` replaces the dumped objects), restores each database in one
transaction (``pg_restore --single-transaction``; SQLite's backup API copies under one
write lock), marks the outbox rows published in the last ``republish`` before the backup
unpublished (the relays send them again; consumers' inboxes drop what they already
applied: messages in flight on the broker at backup time are not lost), imports the broker
definitions (``POST /api/definitions``), then walks the whole chain and compares it with
the recorded head.

Nothing here holds plaintext secrets: RabbitMQ stores salted hashes, the services store
hashed keys and sealed secrets. The sealing keys (``ONESTOP_SECRET_KEYS`` or the data
directory's ``*-secret.key`` files) are *not* in the bundle: keep them apart.
"""

from __future__ import annotations

import glob
import hashlib
import json
import os
import shutil
import sqlite3
import subprocess
import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from importlib import metadata as importlib_metadata
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlsplit

import requests
from sqlalchemy.engine import URL, make_url

from onestop.localservers import PG_BIN_GLOB
from shared.config import SERVICES, Settings

FORMAT = 1
MANIFEST = "manifest.json"
MANIFEST_SUM = "manifest.sha256"
DEFINITIONS = "rabbitmq-definitions.json"
DEFAULT_REPUBLISH = timedelta(hours=1)
Say = Callable[[str], None]


class BackupError(RuntimeError):
    """A backup or restore that cannot go on; nothing more is written after it."""


# --- helpers -----------------------------------------------------------------------------


def sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def _private(path: Path) -> None:
    os.chmod(path, 0o600)


def engine_of(url: str) -> str:
    backend = make_url(url).get_backend_name()
    if backend not in ("postgresql", "sqlite"):
        raise BackupError(f"unsupported database {backend!r} (PostgreSQL or SQLite)")
    return backend


def pg_tool(name: str) -> str:
    """``pg_dump``/``pg_restore``: the newest of the Debian server packages' binaries (a
    dump needs a pg_dump at least as new as the server), else the one on PATH."""
    found = sorted(glob.glob(f"{PG_BIN_GLOB}/{name}"))
    tool = found[-1] if found else shutil.which(name)
    if not tool:
        raise BackupError(f"{name} not found: apt-get install postgresql-client")
    return tool


def _pg(url: str) -> tuple[str, dict[str, str]]:
    """A libpq URI for ``url`` without its password, and the environment carrying it
    (``PGPASSWORD``): a password never appears on a command line or in a message."""
    u: URL = make_url(url)
    env = dict(os.environ)
    if u.password:
        env["PGPASSWORD"] = str(u.password)
    plain = u.set(drivername="postgresql", password=None)
    return plain.render_as_string(hide_password=False), env


def _psycopg(url: str, **kw: Any) -> Any:
    import psycopg

    uri, env = _pg(url)
    return psycopg.connect(uri, password=env.get("PGPASSWORD"), **kw)


def _sqlite_path(url: str) -> Path:
    database = make_url(url).database
    if not database or database == ":memory:":
        raise BackupError(f"{url}: not a SQLite file")
    return Path(database)


def _run(argv: list[str], env: dict[str, str]) -> str:
    done = subprocess.run(argv, env=env, capture_output=True, text=True)
    if done.returncode != 0:
        raise BackupError(f"{Path(argv[0]).name} failed: {done.stderr.strip()[-2000:]}")
    return done.stdout


# --- broker management API ---------------------------------------------------------------


def _management(settings: Settings) -> tuple[str, tuple[str, str]]:
    admin = settings.broker_admin_url
    if not admin:
        raise BackupError(
            "ONESTOP_BROKER_ADMIN_URL is not set: the broker's definitions (agency users) "
            "are read and written through RabbitMQ's management API"
        )
    u = urlsplit(admin)
    base = f"{u.scheme}://{u.hostname}:{u.port or 15672}{u.path.rstrip('/')}/api"
    return base, (u.username or "guest", u.password or "guest")


def broker_definitions(settings: Settings) -> dict[str, Any]:
    base, auth = _management(settings)
    r = requests.get(f"{base}/definitions", auth=auth, timeout=60)
    r.raise_for_status()
    return dict(r.json())


def queue_messages(settings: Settings) -> dict[str, int]:
    """Messages waiting in each queue now (ready + unacknowledged)."""
    base, auth = _management(settings)
    r = requests.get(f"{base}/queues", params={"columns": "name,messages"}, auth=auth, timeout=60)
    r.raise_for_status()
    return {q["name"]: int(q.get("messages") or 0) for q in r.json()}


def import_definitions(settings: Settings, doc: dict[str, Any]) -> None:
    base, auth = _management(settings)
    r = requests.post(f"{base}/definitions", json=doc, auth=auth, timeout=300)
    if r.status_code >= 300:
        raise BackupError(f"RabbitMQ refused the definitions: {r.status_code} {r.text[:500]}")


# --- backup --------------------------------------------------------------------------------


@dataclass
class Snapshot:
    """One database as the bundle holds it."""

    name: str
    engine: str
    file: str
    taken_at: datetime
    alembic_heads: list[str]
    server_version: str | None = None
    chain_head: dict[str, Any] | None = None


def _alembic_heads(rows: Any) -> list[str]:
    return sorted(str(r[0]) for r in rows)


def _chain_head(row: Any) -> dict[str, Any]:
    if row is None:
        return {"length": 0, "last_seq": 0, "last_hash": None}
    return {"length": int(row[0]), "last_seq": int(row[1]), "last_hash": row[2]}


HEAD_SQL = "SELECT length, last_seq, last_hash FROM chain_head WHERE id = 1"
ALEMBIC_SQL = "SELECT version_num FROM alembic_version"


@contextmanager
def _pg_snapshots(urls: dict[str, str]) -> Iterator[dict[str, tuple[str, Snapshot]]]:
    """A REPEATABLE READ transaction per database, opened one right after the other and
    held until the dumps are done: ``{name: (exported snapshot id, what it saw)}``."""
    with ExitStack() as stack:
        out: dict[str, tuple[str, Snapshot]] = {}
        for name, url in urls.items():
            conn = stack.enter_context(_psycopg(url, autocommit=True))  # our own BEGIN
            conn.execute("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY")
            if conn.execute("SHOW transaction_isolation").fetchone()[0] != "repeatable read":
                raise BackupError(f"{name}: no REPEATABLE READ snapshot")
            snap, taken, version = conn.execute(
                "SELECT pg_export_snapshot(), clock_timestamp(), current_setting('server_version')"
            ).fetchone()
            heads = _alembic_heads(conn.execute(ALEMBIC_SQL).fetchall())
            head = _chain_head(conn.execute(HEAD_SQL).fetchone()) if name == "archive" else None
            out[name] = (
                snap,
                Snapshot(name, "postgresql", f"{name}.dump", taken, heads, version, head),
            )
        yield out


def _sqlite_backup(name: str, url: str, target: Path) -> Snapshot:
    """SQLite's online backup API: a consistent copy while the platform runs."""
    source = _sqlite_path(url)
    if not source.exists():
        raise BackupError(f"{name}: {source} does not exist (run `onestop migrate` first)")
    taken = datetime.now(UTC)
    src = sqlite3.connect(source)
    dst = sqlite3.connect(target)
    try:
        with dst:
            src.backup(dst)
        dst.execute("PRAGMA journal_mode=DELETE")  # one file: reading it adds no -wal/-shm
        heads = _alembic_heads(dst.execute(ALEMBIC_SQL).fetchall())
        head = _chain_head(dst.execute(HEAD_SQL).fetchone()) if name == "archive" else None
    finally:
        src.close()
        dst.close()
    _private(target)
    return Snapshot(name, "sqlite", target.name, taken, heads, sqlite3.sqlite_version, head)


def _version(package: str) -> str | None:
    try:
        return importlib_metadata.version(package)
    except importlib_metadata.PackageNotFoundError:
        return None


def backup(settings: Settings, to: Path, say: Say = print, now: datetime | None = None) -> Path:
    """Write one bundle under ``to``; its path. Built under a ``.partial`` name and renamed
    when complete: a bundle without the suffix is whole."""
    now = now or datetime.now(UTC)
    name = f"onestop-backup-{now:%Y-%m-%dT%H%M%SZ}"
    final = to / name
    partial = to / f"{name}.partial"
    if final.exists():
        raise BackupError(f"{final} exists")
    to.mkdir(parents=True, exist_ok=True)
    partial.mkdir(mode=0o700)
    try:
        manifest = _write_bundle(settings, partial, now, say)
        write_manifest(partial, manifest)
        partial.rename(final)
    except BaseException:
        shutil.rmtree(partial, ignore_errors=True)
        raise
    return final


def _write_bundle(settings: Settings, out: Path, now: datetime, say: Say) -> dict[str, Any]:
    urls = {n: settings.database_url(n) for n in SERVICES}
    engines = {engine_of(u) for u in urls.values()}
    if len(engines) != 1:
        raise BackupError("the service databases mix PostgreSQL and SQLite; back up one shape")
    snaps: list[Snapshot] = []
    if engines == {"postgresql"}:
        pg_dump = pg_tool("pg_dump")
        with _pg_snapshots(urls) as taken:
            for name, (snap_id, snap) in taken.items():
                started = time.monotonic()
                uri, env = _pg(urls[name])
                target = out / snap.file
                _run(
                    [
                        pg_dump,
                        "--format=custom",
                        f"--snapshot={snap_id}",
                        "--no-owner",
                        "--no-privileges",
                        f"--file={target}",
                        f"--dbname={uri}",
                    ],
                    env,
                )
                _private(target)
                snaps.append(snap)
                say(f"dumped {name} ({target.stat().st_size} bytes, {_since(started)})")
        tools = {"pg_dump": _run([pg_dump, "--version"], dict(os.environ)).strip()}
    else:
        for name, url in urls.items():
            started = time.monotonic()
            snap = _sqlite_backup(name, url, out / f"{name}.sqlite3")
            snaps.append(snap)
            say(f"copied {name} ({(out / snap.file).stat().st_size} bytes, {_since(started)})")
        tools = {"sqlite": sqlite3.sqlite_version}
    broker: dict[str, Any] = {"embedded": settings.embedded}
    if not settings.embedded:
        doc = broker_definitions(settings)
        path = out / DEFINITIONS
        path.write_text(json.dumps(doc, indent=1, ensure_ascii=False) + "\n")
        _private(path)
        broker.update(
            file=DEFINITIONS,
            rabbitmq_version=doc.get("rabbitmq_version") or doc.get("rabbit_version"),
            users=sorted(u["name"] for u in doc.get("users", [])),
            queues=len(doc.get("queues", [])),
            messages_waiting=queue_messages(settings),
        )
        say(f"broker definitions: {len(broker['users'])} users, {broker['queues']} queues")
    [archive] = [s for s in snaps if s.name == "archive"]
    head = archive.chain_head
    say(f"archive chain head: {json.dumps(head)}")
    return {
        "format": FORMAT,
        "created_at": now.isoformat(),
        "versions": {"onestop": _version("onestop"), **tools},
        "databases": {
            s.name: {
                "engine": s.engine,
                "file": s.file,
                "taken_at": s.taken_at.isoformat(),
                "alembic_heads": s.alembic_heads,
                "server_version": s.server_version,
            }
            for s in snaps
        },
        "archive_chain_head": {
            **(head or {}),
            "taken": "in the archive dump's own snapshot: the head of exactly the dumped chain",
        },
        "broker": broker,
        "secrets": "password hashes and sealed values only; sealing keys are not included",
        "files": {
            p.name: {"bytes": p.stat().st_size, "sha256": sha256_file(p)}
            for p in sorted(out.iterdir())
        },
    }


def _since(started: float) -> str:
    return f"{time.monotonic() - started:.1f}s"


def write_manifest(bundle: Path, manifest: dict[str, Any]) -> None:
    text = json.dumps(manifest, indent=2, ensure_ascii=False, default=str) + "\n"
    (bundle / MANIFEST).write_text(text)
    digest = hashlib.sha256(text.encode()).hexdigest()
    (bundle / MANIFEST_SUM).write_text(f"{digest}  {MANIFEST}\n")
    _private(bundle / MANIFEST)
    _private(bundle / MANIFEST_SUM)


# --- restore -------------------------------------------------------------------------------


def check_bundle(bundle: Path) -> dict[str, Any]:
    """The manifest, after every file's size and sha256 matched it (BackupError first)."""
    if not (bundle / MANIFEST).is_file() or not (bundle / MANIFEST_SUM).is_file():
        raise BackupError(f"{bundle}: not a bundle ({MANIFEST} or {MANIFEST_SUM} missing)")
    raw = (bundle / MANIFEST).read_bytes()
    recorded = (bundle / MANIFEST_SUM).read_text().split()[0]
    if hashlib.sha256(raw).hexdigest() != recorded:
        raise BackupError(f"{MANIFEST}: sha256 does not match {MANIFEST_SUM}")
    manifest: dict[str, Any] = json.loads(raw)
    if manifest.get("format") != FORMAT:
        raise BackupError(f"bundle format {manifest.get('format')!r}; this onestop reads {FORMAT}")
    files: dict[str, Any] = manifest["files"]
    present = {p.name for p in bundle.iterdir()} - {MANIFEST, MANIFEST_SUM}
    if present != set(files):
        raise BackupError(f"files differ from the manifest: {sorted(present ^ set(files))}")
    for name, meta in files.items():
        path = bundle / name
        if path.stat().st_size != meta["bytes"] or sha256_file(path) != meta["sha256"]:
            raise BackupError(f"{name}: size or sha256 does not match the manifest")
    if set(manifest["databases"]) != set(SERVICES):
        raise BackupError(f"the bundle holds {sorted(manifest['databases'])}, not {SERVICES}")
    return manifest


def _pg_tables(url: str) -> int:
    with _psycopg(url) as conn:
        row = conn.execute(
            "SELECT count(*) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
            "WHERE c.relkind IN ('r', 'p', 'v', 'm', 'S') "
            "AND n.nspname NOT IN ('pg_catalog', 'information_schema') "
            "AND n.nspname NOT LIKE 'pg_toast%'"
        ).fetchone()
    return int(row[0])


def _sqlite_tables(url: str) -> int:
    path = _sqlite_path(url)
    if not path.exists():
        return 0
    conn = sqlite3.connect(path)
    try:
        return int(conn.execute("SELECT count(*) FROM sqlite_master").fetchone()[0])
    finally:
        conn.close()


def _ensure_pg_database(url: str) -> None:
    """Create the target database when the server lacks it (an empty stack)."""
    import psycopg

    u = make_url(url)
    try:
        _psycopg(url).close()
        return
    except psycopg.OperationalError as exc:
        if "does not exist" not in str(exc):
            raise BackupError(f"{u.database}: cannot connect: {exc}") from None
    with _psycopg(str(u.set(database="postgres")), autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{u.database}"')


def restore(
    settings: Settings,
    bundle: Path,
    *,
    force: bool = False,
    republish: timedelta = DEFAULT_REPUBLISH,
    say: Say = print,
) -> dict[str, Any]:
    """Bring a bundle up on the configured (empty) databases and broker; what was done.
    Everything is checked before the first write: the hashes, the engines, that each
    target is empty (unless ``force``), and that the broker's management API answers."""
    manifest = check_bundle(bundle)
    say(f"bundle {bundle.name}: every file matches its sha256")
    urls = {n: settings.database_url(n) for n in SERVICES}
    for name, meta in manifest["databases"].items():
        if engine_of(urls[name]) != meta["engine"]:
            raise BackupError(
                f"{name}: the bundle holds {meta['engine']}, the target is "
                f"{engine_of(urls[name])} (restore onto the same shape)"
            )
    definitions = manifest["broker"].get("file")
    if definitions and settings.embedded:
        raise BackupError("the bundle has broker definitions; the target broker is embedded")
    if definitions:
        broker_definitions(settings)  # the management API answers before anything is written
    busy = []
    for name, url in urls.items():
        if engine_of(url) == "postgresql":
            _ensure_pg_database(url)
            tables = _pg_tables(url)
        else:
            tables = _sqlite_tables(url)
        if tables:
            busy.append(f"{name} ({tables} tables)")
    if busy and not force:
        raise BackupError(
            "the target databases are not empty: " + ", ".join(busy) + "; restore onto an "
            "empty stack, or --force to replace what the bundle holds"
        )
    report: dict[str, Any] = {"bundle": bundle.name, "databases": {}}
    for name, url in urls.items():
        started = time.monotonic()
        meta = manifest["databases"][name]
        if meta["engine"] == "postgresql":
            _pg_restore(url, bundle / meta["file"], clean=force)
        else:
            _sqlite_restore(url, bundle / meta["file"])
        resent = _republish(url, datetime.fromisoformat(meta["taken_at"]) - republish)
        report["databases"][name] = {"seconds": round(time.monotonic() - started, 1)}
        report["databases"][name]["republish"] = resent
        say(f"restored {name} ({_since(started)}); {resent} outbox events to send again")
    if definitions:
        doc = json.loads((bundle / definitions).read_text())
        import_definitions(settings, doc)
        report["broker"] = {"users": len(doc.get("users", [])), "queues": len(doc["queues"])}
        say(
            f"imported broker definitions: {len(doc.get('users', []))} users, "
            f"{len(doc['queues'])} queues"
        )
    report["archive"] = verify_chain(settings, manifest["archive_chain_head"])
    say(f"archive chain: full walk of {report['archive']['checked']} records = recorded head")
    return report


def _pg_restore(url: str, dump: Path, *, clean: bool) -> None:
    uri, env = _pg(url)
    argv = [
        pg_tool("pg_restore"),
        "--single-transaction",
        "--exit-on-error",
        "--no-owner",
        "--no-privileges",
        f"--dbname={uri}",
    ]
    if clean:
        argv += ["--clean", "--if-exists"]
    _run([*argv, str(dump)], env)
    # a dump carries no planner statistics: without them the first queries (the chain walk
    # among them) plan as if every table were empty
    with _psycopg(url, autocommit=True) as conn:
        conn.execute("ANALYZE")


def _sqlite_restore(url: str, copy: Path) -> None:
    """The bundle's copy into the target file with the backup API: one write lock, all
    pages or none. The target's other files (WAL) are checkpointed by SQLite itself."""
    target = _sqlite_path(url)
    target.parent.mkdir(parents=True, exist_ok=True)
    src = sqlite3.connect(f"file:{quote(str(copy))}?mode=ro&immutable=1", uri=True)
    dst = sqlite3.connect(target)
    try:
        src.backup(dst)
    finally:
        src.close()
        dst.close()


def _republish(url: str, since: datetime) -> int:
    """Outbox rows published since ``since``: unpublished again, so the relays send them
    once more (consumers' inboxes drop the ones they had already applied)."""
    from sqlalchemy import inspect, update

    from shared.db import make_engine

    engine = make_engine(url)
    try:
        if not inspect(engine).has_table("outbox"):
            return 0
        from sqlalchemy import MetaData, Table

        outbox = Table("outbox", MetaData(), autoload_with=engine)
        with engine.begin() as conn:
            result = conn.execute(
                update(outbox).where(outbox.c.published_at >= since).values(published_at=None)
            )
        return int(result.rowcount or 0)
    finally:
        engine.dispose()


def verify_chain(settings: Settings, recorded: dict[str, Any]) -> dict[str, Any]:
    """A full walk of the restored chain, which must end exactly at the recorded head."""
    from services import archive as archive_service
    from services.archive.verification import read_head, verify

    svc = archive_service.build(settings)
    try:
        svc.relay.stop()
        result = verify(svc.uow(), None, full=True)
        head = read_head(svc.uow())
    finally:
        svc.db.engine.dispose()
    found = (
        {"length": head.length, "last_seq": head.last_seq, "last_hash": head.last_hash}
        if head
        else {"length": 0, "last_seq": 0, "last_hash": None}
    )
    want = {k: recorded.get(k) for k in ("length", "last_seq", "last_hash")}
    if not result["ok"] or result["checked"] != want["length"] or found != want:
        raise BackupError(
            f"the restored archive chain does not match the bundle: walked {result['checked']} "
            f"(first mismatch {result['first_mismatch']}), head {found}, recorded {want}"
        )
    return {"ok": True, "checked": result["checked"], "last_hash": found["last_hash"]}
