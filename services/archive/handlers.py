"""Archive's consumer: every event of every producer appended to the hash chain.

The other features have their own modules: ``verification`` (walking the chain),
``search`` (trace and search), ``exports`` (the streaming export), ``replays``
(re-publishing to a consumer queue) and ``reports``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import func, insert, select, text, update
from sqlalchemy.orm import Session

from services.archive.domain import GENESIS, canonical, chain_hash, demand_code_of, subjects_of
from services.archive.metrics import ARCHIVED
from services.archive.models import archived_events, chain_head
from shared.db import UnitOfWork
from shared.events import Event

t = archived_events
CHAIN_LOCK = 7_330_001  # advisory lock id serialising chain appends on PostgreSQL
# the session's transaction and its (length, hash) after its appends
CHAIN_HEAD_KEY = "onestop.archive.chain_head"


@dataclass(eq=False)  # hashable by identity: the pre-commit job's item
class Head:
    """The chain's head as this transaction leaves it, and the appends that lead there:
    written (``rows``, then the head; ``stored``: its row existed when the transaction
    read it) once, before the commit (``_store_head``)."""

    length: int
    last_hash: str
    last_seq: int | None
    stored: bool
    rows: list[dict[str, Any]] = field(default_factory=list)


def on_any_event(event: Event, uow: UnitOfWork) -> None:
    """Append the event to the chain and move the head (the inbox makes this exactly-once).

    The first append of a transaction takes the chain's lock (held until it ends) and
    reads the head; the next appends of the same transaction (a consumer's batch) go on
    from the head it left in the session. The appended records and the head row are
    written once, just before the commit: one multi-row insert, in chain order."""
    s = uow.session
    cached = s.info.get(CHAIN_HEAD_KEY)
    head: Head | None = cached[1] if cached and cached[0] is s.get_transaction() else None
    if head is None:
        if uow.db.is_postgres:
            s.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": CHAIN_LOCK})
        row = s.execute(select(chain_head).where(chain_head.c.id == 1)).first()
        head = (
            Head(row.length, row.last_hash, row.last_seq, True)
            if row
            else Head(0, GENESIS, None, False)
        )
        s.info[CHAIN_HEAD_KEY] = (s.get_transaction(), head)
        uow.before_commit(_store_head, head)
    body = canonical(event.to_dict())
    new_hash = chain_hash(head.last_hash, body)
    head.rows.append(
        {
            "event_id": event.event_id,
            "event_type": event.event_type,
            "event_version": event.event_version,
            "producer": event.producer,
            "jurisdiction": event.jurisdiction,
            "correlation_id": event.correlation_id,
            "demand_code": demand_code_of(event.payload),
            **subjects_of(event.payload),
            "occurred_at": event.occurred_at,
            "archived_at": datetime.now(UTC),
            "body": body,
            "prev_hash": head.last_hash,
            "hash": new_hash,
        }
    )
    head.length, head.last_hash = head.length + 1, new_hash
    ARCHIVED.labels(event.producer, event.event_type).inc()


APPEND = insert(t)
LAST_SEQ = select(func.max(t.c.seq))


def _store_head(s: Session, heads: list[Head]) -> None:
    """Write the records this transaction appended (``on_any_event``), in chain order,
    then the head they leave — once."""
    [head] = heads
    if head.rows:
        # an executemany without RETURNING: psycopg sends one prepared INSERT per record
        # in a pipeline, where a multi-row VALUES list with RETURNING (SQLAlchemy's
        # insertmanyvalues) is a statement of thousands of characters that psycopg parses
        # again every time; the chain's lock keeps every other append out, so the newest
        # record is the last of these
        s.execute(APPEND, head.rows)
        head.last_seq = s.execute(LAST_SEQ).scalar_one()
        head.rows = []
    values = {"length": head.length, "last_seq": head.last_seq, "last_hash": head.last_hash}
    if head.stored:
        s.execute(update(chain_head).where(chain_head.c.id == 1).values(**values))
    else:
        s.execute(insert(chain_head).values(id=1, **values))
