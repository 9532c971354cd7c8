"""Dead letters: kept in the service's database, listed, re-driven after a fix.

Guarantees:

* **Never lost.** A consumer dead-letters a message by publishing it, with its
  ``x-onestop-*`` headers (queue, reason, attempts, failed-at), to ``<queue>.dlq`` and
  only then acknowledging it. The worker drains ``<queue>.dlq`` into the
  ``dead_letters`` table with :func:`record`, acknowledging each message after the
  commit; while the database is down the consumer pauses and the letter waits on the
  broker (``shared.messaging``).
* **Recorded once.** A row is keyed by queue and a digest of the body; the same
  dead-lettering delivered twice (a crash before the ack) changes nothing, a new
  failure of a re-driven letter makes the same row ``dead`` again (``times`` counts).
* **Re-driven idempotently.** :func:`redrive` publishes the original body to its queue
  with the attempt count reset (broker-confirmed), then marks the row ``redriven`` and
  emits ``dead_letter.redriven`` (archived) in one transaction. A crash in between
  leaves the row ``dead``: a second re-drive publishes again, and the consumer's inbox
  applies the event at most once.
"""

from __future__ import annotations

import hashlib
import json
from datetime import UTC, datetime
from typing import Any, Protocol

from sqlalchemy import Table, func, insert, select, update
from sqlalchemy.exc import IntegrityError

from shared.contracts.operations import DEAD_LETTER_REDRIVEN
from shared.db import Database, UnitOfWork
from shared.events import UNIT_CODE_RE, make_event

STATUSES = ("dead", "redriven")
HEADER_PREFIX = "x-onestop-"
REDRIVE_HEADER = "x-onestop-redrive"  # the dead letter's id, on a re-driven message


class QueuePublisher(Protocol):
    def publish_to_queue(self, queue: str, body: str | bytes, headers: dict[str, Any]) -> None:
        """Publish straight to ``queue``; return only once the broker confirmed it."""


def digest(body: str) -> str:
    return hashlib.sha256(body.encode("utf-8", "surrogatepass")).hexdigest()


def storable(text: str) -> str:
    """Text every database keeps: NUL and lone surrogates written as escapes (a dead
    letter is often dead because of them)."""
    return text.replace("\x00", "\\u0000").encode("utf-8", "backslashreplace").decode("utf-8")


def _envelope(body: str) -> dict[str, Any]:
    try:
        data = json.loads(body)
    except ValueError:
        return {}
    return data if isinstance(data, dict) else {}


def _text(value: Any, limit: int) -> str | None:
    return storable(str(value))[:limit] if value is not None else None


NO_TIME = datetime(1970, 1, 1, tzinfo=UTC)


def _failed_at(headers: dict[str, Any]) -> datetime:
    """When the consumer dead-lettered it; a letter without the header (not ours) has one
    fixed time, so a redelivery of it is recognised as the same dead-lettering."""
    raw = headers.get(f"{HEADER_PREFIX}failed-at")
    try:
        at = datetime.fromisoformat(str(raw))
        return at if at.tzinfo else at.replace(tzinfo=UTC)
    except ValueError:
        return NO_TIME


def record(db: Database, table: Table, queue: str, body: str, headers: dict[str, Any]) -> bool:
    """Keep one dead letter (the worker's sink); True when it was new or dead again."""
    envelope = _envelope(body)
    failed_at = _failed_at(headers)
    try:
        attempts = int(headers.get(f"{HEADER_PREFIX}attempts", 1))
    except (TypeError, ValueError):
        attempts = 1
    values = {
        "event_id": _text(envelope.get("event_id"), 100),
        "event_type": _text(envelope.get("event_type") or headers.get("event_type"), 80),
        "reason": storable(str(headers.get(f"{HEADER_PREFIX}reason", "unknown")))[:4000],
        "attempts": attempts,
        "headers": storable(json.dumps(headers, ensure_ascii=False, default=str, sort_keys=True)),
        "failed_at": failed_at,
        "status": "dead",
    }
    key = digest(body)
    for last_try in (False, True):  # a concurrent first insert of the same letter: update
        try:
            return _keep(db, table, queue, key, storable(body), values)
        except IntegrityError:
            if last_try:
                raise
    return False  # pragma: no cover - the loop returns or raises


def _keep(
    db: Database, table: Table, queue: str, key: str, body: str, values: dict[str, Any]
) -> bool:
    with db.write_session() as s:
        row = s.execute(
            select(table.c.id, table.c.failed_at)
            .where(table.c.queue == queue, table.c.digest == key)
            .with_for_update()
        ).first()
        if row is None:
            s.execute(insert(table).values(queue=queue, digest=key, body=body, times=1, **values))
        elif row.failed_at == values["failed_at"]:
            return False  # this very dead-lettering, delivered again
        else:  # re-driven, and failed again
            s.execute(
                update(table).where(table.c.id == row.id).values(times=table.c.times + 1, **values)
            )
        s.commit()
    return True


def _summary(r: Any) -> dict[str, Any]:
    return {
        "id": r.id,
        "queue": r.queue,
        "event_id": r.event_id,
        "event_type": r.event_type,
        "reason": r.reason,
        "attempts": r.attempts,
        "failed_at": r.failed_at.isoformat(),
        "status": r.status,
        "times": r.times,
        "redriven_at": r.redriven_at.isoformat() if r.redriven_at else None,
        "redriven_by": r.redriven_by,
    }


def listing(
    db: Database,
    table: Table,
    *,
    queue: str | None = None,
    status: str | None = "dead",
    after_id: int = 0,
    limit: int = 100,
) -> list[dict[str, Any]]:
    """Dead letters oldest first (``status`` None: every status), ``limit`` after ``after_id``."""
    q = select(table).where(table.c.id > after_id).order_by(table.c.id).limit(limit)
    if queue:
        q = q.where(table.c.queue == queue)
    if status:
        q = q.where(table.c.status == status)
    with db.reading() as s:
        return [_summary(r) for r in s.execute(q).all()]


def count(db: Database, table: Table, status: str = "dead") -> int:
    with db.reading() as s:
        n = s.scalar(select(func.count()).select_from(table).where(table.c.status == status))
    return int(n or 0)


def show(db: Database, table: Table, letter_id: int) -> dict[str, Any] | None:
    """One dead letter with its body and its headers."""
    with db.reading() as s:
        r = s.execute(select(table).where(table.c.id == letter_id)).first()
    if r is None:
        return None
    return {**_summary(r), "body": r.body, "headers": json.loads(r.headers or "{}")}


def redrive(
    uow_factory: Any,
    table: Table,
    publisher: QueuePublisher,
    *,
    service: str,
    queue: str,
    actor: str,
    ids: list[int] | None = None,
    limit: int = 1000,
) -> dict[str, Any]:
    """Put dead letters of ``queue`` (all of them, or ``ids``) back on the queue."""
    make: Any = uow_factory
    with make() as uow:
        q = select(table).where(table.c.queue == queue, table.c.status == "dead")
        if ids:
            q = q.where(table.c.id.in_(ids))
        rows = uow.session.execute(q.order_by(table.c.id).limit(limit)).all()
    found = {r.id for r in rows}
    skipped = [{"id": i, "reason": "no dead letter with this id on this queue"} for i in ids or []]
    skipped = [s for s in skipped if s["id"] not in found]
    redriven: list[int] = []
    for r in rows:
        envelope = _envelope(r.body)
        jurisdiction = str(envelope.get("jurisdiction", ""))
        if not envelope.get("event_id") or not UNIT_CODE_RE.match(jurisdiction):
            skipped.append({"id": r.id, "reason": "not an event envelope: nothing to re-drive"})
            continue
        stored = json.loads(r.headers or "{}")
        headers = {k: v for k, v in stored.items() if not k.startswith(HEADER_PREFIX)}
        headers[REDRIVE_HEADER] = r.id
        publisher.publish_to_queue(queue, r.body, headers)
        _mark(make, table, r, envelope, service=service, actor=actor)
        redriven.append(r.id)
    return {"service": service, "queue": queue, "redriven": redriven, "skipped": skipped}


def _mark(make: Any, table: Table, r: Any, envelope: dict[str, Any], **who: str) -> None:
    """Mark the letter re-driven and archive the re-drive. A letter that was re-driven
    meanwhile, or has already failed again (a newer ``failed_at``), keeps its row as it
    is — the re-drive is archived all the same: it happened."""
    now = datetime.now(UTC)
    payload = envelope.get("payload")
    demand = payload.get("demand_code") if isinstance(payload, dict) else None
    uow: UnitOfWork
    with make() as uow:
        uow.session.execute(
            update(table)
            .where(table.c.id == r.id, table.c.status == "dead", table.c.failed_at == r.failed_at)
            .values(status="redriven", redriven_at=now, redriven_by=who["actor"][:200])
        )
        uow.emit(
            make_event(
                DEAD_LETTER_REDRIVEN,
                1,
                producer=who["service"],
                jurisdiction=envelope["jurisdiction"],
                correlation_id=_text(envelope.get("correlation_id"), 100),
                payload={
                    "service": who["service"],
                    "queue": r.queue,
                    "dead_letter_id": r.id,
                    "event_id": r.event_id or "",
                    "event_type": r.event_type or "",
                    "demand_code": demand if isinstance(demand, str) else None,
                    "reason": r.reason,
                    "attempts": r.attempts,
                    "failed_at": r.failed_at,
                    "actor": who["actor"],
                    "at": now,
                },
            )
        )
        uow.commit()
