"""Verifying the hash chain: a walk from its start, then the head.

The rules (what breaks the chain) are pure, in ``services.archive.domain``: ``walk``
and ``head_mismatch``. This use case reads the records for them, in batches.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select

from services.archive.domain import Head, Link, head_mismatch, walk
from services.archive.exports import BATCH
from services.archive.metrics import CHAIN_LENGTH, VERIFY_OK, VERIFY_TIME
from services.archive.models import archived_events, chain_head
from shared.auth import Principal
from shared.db import UnitOfWork
from shared.events import is_province
from shared.usecases import Forbidden

t = archived_events
# the columns holding indexed copies of envelope fields: verify checks them against the body
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


def verify(uow: UnitOfWork, actor: Principal | None, *, batch: int = BATCH) -> dict[str, Any]:
    """Walk the chain from its start; name the first record that does not match (edited,
    deleted or reordered), and check the head (the newest records deleted).

    The chain is one platform-wide sequence: only a province's administrators and
    auditors may walk it (Forbidden for anyone else); ``actor`` None is the platform
    operator (the CLI)."""
    auditor = actor is not None and actor.role == "auditor" and is_province(actor.jurisdiction)
    if actor is not None and not (actor.is_province_admin or auditor):
        raise Forbidden(
            f"Your key is {actor.role} of {actor.jurisdiction}. "
            "Verifying the hash chain is for the province's administrators and auditors: the "
            "chain is one platform-wide sequence, so it cannot be verified for a subtree, and "
            "its answer (the first bad record, of any jurisdiction) is about the whole "
            "platform. A city or district relies on the province's verification and the "
            "metric onestop_archive_last_verify_ok.",
        )
    started = datetime.now(UTC)
    # The head first: the walk then covers exactly the records it counts, however many
    # are appended meanwhile (the head moves with every append, in the same transaction).
    head = read_head(uow)
    walked = walk(links(uow, batch, upto=head.last_seq if head else None))
    problem = walked.first_mismatch
    if problem is None:
        problem = head_mismatch(head, walked)
    elapsed = (datetime.now(UTC) - started).total_seconds()
    VERIFY_OK.set(0 if problem else 1)
    VERIFY_TIME.set(started.timestamp())
    CHAIN_LENGTH.set(walked.checked)
    return {
        "ok": problem is None,
        "checked": walked.checked,
        "first_mismatch": problem,
        "seconds": round(elapsed, 3),
        "rate_per_second": round(walked.checked / elapsed) if elapsed > 0 else None,
        "verified_at": started,
    }


def links(uow: UnitOfWork, batch: int = BATCH, upto: int | None = None) -> Iterator[Link]:
    """Every record as the chain sees it (up to ``seq`` ``upto`` when given), in ``seq``
    order, read ``batch`` at a time (each batch in its own short read: a walk that stops
    early leaves no session open)."""
    cols = [t.c[c] for c in INDEXED if c != "event_id"]
    last = 0
    while True:
        with uow.read() as s:
            query = select(t.c.seq, t.c.event_id, t.c.body, t.c.prev_hash, t.c.hash, *cols)
            if upto is not None:
                query = query.where(t.c.seq <= upto)
            rows = s.execute(query.where(t.c.seq > last).order_by(t.c.seq).limit(batch)).all()
        if not rows:
            return
        for r in rows:
            yield Link(
                r.seq, r.event_id, r.body, r.prev_hash, r.hash, {c: getattr(r, c) for c in INDEXED}
            )
        last = rows[-1].seq


def read_head(uow: UnitOfWork) -> Head | None:
    with uow.read() as s:
        head = s.execute(select(chain_head).where(chain_head.c.id == 1)).first()
    return None if head is None else Head(head.length, head.last_seq, head.last_hash)
