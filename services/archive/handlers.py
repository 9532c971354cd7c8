"""Archive use cases: append, verify, trace, search, streaming export, replay."""

from __future__ import annotations

import csv
import io
import json
import logging
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import insert, select, text, update

from services.archive.domain import (
    GENESIS,
    Link,
    canonical,
    chain_hash,
    check_record,
    demand_code_of,
    redacted,
    subjects_of,
)
from services.archive.metrics import (
    ARCHIVED,
    CHAIN_LENGTH,
    REPLAYED,
    VERIFY_OK,
    VERIFY_TIME,
)
from services.archive.models import archived_events, chain_head
from shared.auth import Principal
from shared.db import UnitOfWork
from shared.errors import ApiError, invalid
from shared.events import Event, subtree_prefix
from shared.pagination import cursor_key, encode_cursor
from shared.runtime import Service

log = logging.getLogger(__name__)
t = archived_events
CHAIN_LOCK = 7_330_001  # advisory lock id serialising chain appends on PostgreSQL
INDEXED = (
    "event_id",
    "event_type",
    "producer",
    "jurisdiction",
    "demand_code",
    "credit_code",
    "staff_id",
    "agency_id",
)
MAX_SYNC_DAYS = 366  # a search over a wider range is refused: use the streaming export
BATCH = 2000


def on_any_event(event: Event, uow: UnitOfWork) -> None:
    """Append the event to the chain and move the head (the inbox makes this exactly-once)."""
    s = uow.session
    if uow.db.is_postgres:
        s.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": CHAIN_LOCK})
    head = s.execute(select(chain_head).where(chain_head.c.id == 1)).first()
    prev_hash = head.last_hash if head else GENESIS
    body = canonical(event.to_dict())
    new_hash = chain_hash(prev_hash, body)
    seq = s.execute(
        insert(t)
        .values(
            event_id=event.event_id,
            event_type=event.event_type,
            event_version=event.event_version,
            producer=event.producer,
            jurisdiction=event.jurisdiction,
            correlation_id=event.correlation_id,
            demand_code=demand_code_of(event.payload),
            **subjects_of(event.payload),
            occurred_at=event.occurred_at,
            archived_at=datetime.now(UTC),
            body=body,
            prev_hash=prev_hash,
            hash=new_hash,
        )
        .returning(t.c.seq)
    ).scalar_one()
    if head is None:
        s.execute(insert(chain_head).values(id=1, length=1, last_seq=seq, last_hash=new_hash))
    else:
        s.execute(
            update(chain_head)
            .where(chain_head.c.id == 1)
            .values(length=head.length + 1, last_seq=seq, last_hash=new_hash)
        )
    ARCHIVED.labels(event.producer, event.event_type).inc()


# --- verify -------------------------------------------------------------------------------


def verify(svc: Service, principal: Principal | None = None, batch: int = BATCH) -> dict[str, Any]:
    """Walk the chain from its start; name the first record that does not match (edited,
    deleted or reordered), and check the head (the newest records deleted).

    The chain is one platform-wide sequence: only a province's administrators may walk it
    (403 for anyone else); ``principal`` None is the platform operator (the CLI)."""
    if principal is not None and not principal.is_province_admin:
        raise ApiError(
            403,
            f"Your key is {principal.role} of {principal.jurisdiction}. "
            "Verifying the hash chain is for the province's administrators: the chain is one "
            "platform-wide sequence, so it cannot be verified for a subtree, and its answer "
            "(the first bad record, of any jurisdiction) is about the whole platform. A city or "
            "district relies on the province's verification and the metric "
            "onestop_archive_last_verify_ok.",
        )
    started = datetime.now(UTC)
    prev, expected, checked, last = GENESIS, None, 0, 0
    problem: dict[str, Any] | None = None
    cols = [t.c[c] for c in INDEXED if c != "event_id"]
    while problem is None:
        with svc.db.session() as s:
            rows = s.execute(
                select(t.c.seq, t.c.event_id, t.c.body, t.c.prev_hash, t.c.hash, *cols)
                .where(t.c.seq > last)
                .order_by(t.c.seq)
                .limit(batch)
            ).all()
        if not rows:
            break
        for r in rows:
            link = Link(
                r.seq, r.event_id, r.body, r.prev_hash, r.hash, {c: getattr(r, c) for c in INDEXED}
            )
            why = check_record(prev, expected, link)
            if why:
                problem = {"seq": r.seq, "event_id": r.event_id, "reason": why}
                break
            prev, expected, last, checked = r.hash, r.seq + 1, r.seq, checked + 1
    if problem is None:
        with svc.db.session() as s:
            head = s.execute(select(chain_head).where(chain_head.c.id == 1)).first()
        if head is not None and (head.length != checked or head.last_hash != prev):
            problem = {
                "seq": head.last_seq,
                "event_id": None,
                "reason": f"the chain ends after {checked} records but its head says "
                f"{head.length} ending at record {head.last_seq} (the newest records deleted)",
            }
        elif head is None and checked:
            problem = {"seq": None, "event_id": None, "reason": "the chain head is missing"}
    elapsed = (datetime.now(UTC) - started).total_seconds()
    VERIFY_OK.set(0 if problem else 1)
    VERIFY_TIME.set(started.timestamp())
    CHAIN_LENGTH.set(checked)
    return {
        "ok": problem is None,
        "checked": checked,
        "first_mismatch": problem,
        "seconds": round(elapsed, 3),
        "rate_per_second": round(checked / elapsed) if elapsed > 0 else None,
        "verified_at": started,
    }


# --- trace and search --------------------------------------------------------------------


def _out(r: Any) -> dict[str, Any]:
    return {
        **json.loads(r.body),
        "archive": {"seq": r.seq, "hash": r.hash, "archived_at": r.archived_at.isoformat()},
    }


def trace(svc: Service, code: str, principal: Principal) -> list[dict[str, Any]]:
    """Every archived event of one demand, oldest first, each with its envelope. The
    demand belongs where its ``demand.accepted`` was filed."""
    with svc.db.session() as s:
        rows = s.execute(
            select(t.c.seq, t.c.body, t.c.hash, t.c.jurisdiction, t.c.archived_at, t.c.event_type)
            .where(t.c.demand_code == code)
            .order_by(t.c.occurred_at, t.c.seq)
        ).all()
    home = next((r.jurisdiction for r in rows if r.event_type == "demand.accepted"), None)
    home = home or (rows[0].jurisdiction if rows else None)
    if home is None or not principal.can_see(home):
        raise ApiError(404, f"No archived events for demand {code} in your jurisdiction.")
    return [_out(r) for r in rows]


def _query(principal: Principal | None, args: dict[str, Any]) -> Any:
    """The matching records; ``principal`` None is the platform operator (the CLI)."""
    root = args.get("jurisdiction") or (principal.jurisdiction if principal else None)
    if principal is not None and root is not None and not principal.can_see(root):
        raise ApiError(
            403,
            f"{root} is outside your jurisdiction.",
            fields={"query": {"jurisdiction": ["outside your jurisdiction"]}},
        )
    q = select(t)
    if root is not None:
        q = q.where(t.c.jurisdiction.startswith(subtree_prefix(root)))
    for name, column in (
        ("enterprise", "credit_code"),
        ("staff", "staff_id"),
        ("agency", "agency_id"),
        ("type", "event_type"),
        ("producer", "producer"),
        ("demand", "demand_code"),
        ("correlation_id", "correlation_id"),
    ):
        if args.get(name):
            q = q.where(t.c[column] == args[name])
    if args.get("from"):
        q = q.where(t.c.occurred_at >= args["from"])
    if args.get("to"):
        q = q.where(t.c.occurred_at < args["to"])
    return q


def _check_range(args: dict[str, Any]) -> None:
    """422 for a time range that ends before (or when) it starts."""
    start, end = args.get("from"), args.get("to")
    if start is not None and end is not None and end <= start:
        raise ApiError(
            422, "The range ends after it starts.", fields={"query": {"to": ["not after from"]}}
        )


def search(svc: Service, principal: Principal, args: dict[str, Any]) -> dict[str, Any]:
    """Events by enterprise, staff, agency, subtree, type and time range, newest first,
    a page at a time. A range wider than a year (or none) is for the streaming export."""
    start, end = args.get("from"), args.get("to")
    if start is None or end is None:
        raise ApiError(
            422,
            "Give a time range (from, to) of at most a year; for more use "
            "GET /archive/api/v1/export.",
            fields={"query": {"from": ["required"], "to": ["required"]}},
        )
    _check_range(args)
    if end - start > timedelta(days=MAX_SYNC_DAYS):
        raise ApiError(
            422,
            f"A range over {MAX_SYNC_DAYS} days is too wide for a synchronous "
            "query: use the streaming export GET /archive/api/v1/export.",
            fields={"query": {"to": ["range too wide"]}},
        )
    q = _query(principal, args)
    key = cursor_key(args.get("cursor"), 1, lambda k: [int(k[0])])
    if key is not None:
        q = q.where(t.c.seq < key[0])
    limit = args["limit"]
    with svc.db.session() as s:
        rows = s.execute(q.order_by(t.c.seq.desc()).limit(limit + 1)).all()
    page = rows[:limit]
    return {
        "items": [_out(r) for r in page],
        "next_cursor": encode_cursor([page[-1].seq]) if len(rows) > limit else None,
    }


# --- streaming export ------------------------------------------------------------------------

CSV_COLUMNS = [
    "seq",
    "event_id",
    "event_type",
    "event_version",
    "producer",
    "jurisdiction",
    "occurred_at",
    "correlation_id",
    "demand_code",
    "credit_code",
    "staff_id",
    "agency_id",
    "hash",
    "payload",
]


EXPORT_FORMATS = ("jsonl", "csv")


def export(svc: Service, principal: Principal, args: dict[str, Any], fmt: str) -> Iterator[str]:
    """Every matching event, oldest first, read in keyset batches: constant memory
    whatever the size. Demand content and contacts are left out without consent.

    Not a generator: the format and the range are checked, the query scoped to the
    principal's subtree and the first batch read when this is called, so a refusal (403,
    422) or an unreachable database is answered before the first byte is sent; the
    iterator returned formats the rows and reads the rest."""
    if fmt not in EXPORT_FORMATS:
        raise invalid("query", "format", f"one of {', '.join(EXPORT_FORMATS)}")
    _check_range(args)
    rows = export_rows(svc, principal, args)
    return _jsonl(rows) if fmt == "jsonl" else _csv(rows)


def _jsonl(rows: Iterator[Any]) -> Iterator[str]:
    for r in rows:
        env = redacted(json.loads(r.body))
        yield (
            json.dumps({**env, "archive": {"seq": r.seq, "hash": r.hash}}, ensure_ascii=False)
            + "\n"
        )


def _csv(rows: Iterator[Any]) -> Iterator[str]:
    buf = io.StringIO()
    writer = csv.writer(buf)
    writer.writerow(CSV_COLUMNS)
    yield buf.getvalue()
    for r in rows:
        buf.seek(0)
        buf.truncate()
        env = redacted(json.loads(r.body))
        writer.writerow(
            [
                r.seq,
                r.event_id,
                r.event_type,
                r.event_version,
                r.producer,
                r.jurisdiction,
                r.occurred_at.isoformat(),
                r.correlation_id,
                r.demand_code or "",
                r.credit_code or "",
                r.staff_id or "",
                r.agency_id or "",
                r.hash,
                json.dumps(env["payload"], ensure_ascii=False, sort_keys=True),
            ]
        )
        yield buf.getvalue()


# --- replay ------------------------------------------------------------------------------------


def known_queues(svc: Service) -> dict[str, list[tuple[str, str]]]:
    """Every consumer queue of the platform and its bindings (the replay targets)."""
    from onestop.topology import platform_subscriptions

    return {sub.queue: list(sub.bindings) for sub in platform_subscriptions(svc.settings)}


def replay(svc: Service, principal: Principal | None, data: dict[str, Any]) -> dict[str, Any]:
    """Re-publish archived events (filtered) to one consumer queue, oldest first, each
    marked ``replay: true``; the consumer's inbox recognises those it already applied.
    Only the events the queue's bindings would have routed to it are sent."""
    from onestop.rebuild import matches
    from shared.messaging import KombuPublisher

    queues = known_queues(svc)
    queue = data["queue"]
    if queue not in queues:
        raise ApiError(
            422,
            f"Unknown consumer queue {queue!r}.",
            fields={"json": {"queue": [f"one of {', '.join(sorted(queues))}"]}},
        )
    bindings = queues[queue]
    args = {
        "jurisdiction": data.get("jurisdiction"),
        "from": data.get("from"),
        "to": data.get("to"),
    }
    types = set(data.get("types") or [])
    rows = export_rows(svc, principal, args)  # scoped (403) before the broker is touched
    publisher = KombuPublisher(svc.settings.broker_url)
    sent = skipped = 0
    try:
        for chunk in rows:
            envelope = json.loads(chunk.body)
            routing = ".".join([envelope["event_type"], *_path(envelope["jurisdiction"])])
            if types and envelope["event_type"] not in types:
                continue
            if not any(p == envelope["producer"] and matches(k, routing) for p, k in bindings):
                skipped += 1
                continue
            envelope["replay"] = True
            publisher.publish_to_queue(
                queue,
                json.dumps(envelope, ensure_ascii=False),
                {
                    "event_id": envelope["event_id"],
                    "event_type": envelope["event_type"],
                    "x-onestop-replay": True,
                },
            )
            sent += 1
    finally:
        publisher.close()
    REPLAYED.labels(queue).inc(sent)
    log.info("replayed %d events to %s (%d not routed there)", sent, queue, skipped)
    return {"queue": queue, "sent": sent, "not_routed": skipped}


def _path(code: str) -> list[str]:
    from shared.events import jurisdiction_path

    return jurisdiction_path(code)


def export_rows(svc: Service, principal: Principal | None, args: dict[str, Any]) -> Iterator[Any]:
    """The matching records, oldest first, in keyset batches of ``BATCH`` (constant
    memory). Not a generator: the query is scoped (403 outside the principal's subtree)
    and the first batch read when this is called, so a refusal or an unreachable
    database comes before the caller has sent or published anything."""
    base = _query(principal, args)
    return _batches(svc, base, _batch(svc, base, after=0))


def _batch(svc: Service, base: Any, after: int) -> list[Any]:
    with svc.db.session() as s:
        return list(s.execute(base.where(t.c.seq > after).order_by(t.c.seq).limit(BATCH)).all())


def _batches(svc: Service, base: Any, batch: list[Any]) -> Iterator[Any]:
    while batch:
        yield from batch
        batch = _batch(svc, base, after=batch[-1].seq)
