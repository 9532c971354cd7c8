"""Archive use cases."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import insert, select, text

from services.archive.domain import GENESIS, canonical, chain_hash, demand_code_of
from services.archive.models import archived_events
from shared.auth import Principal
from shared.db import UnitOfWork
from shared.errors import ApiError
from shared.events import Event
from shared.runtime import Service

t = archived_events
CHAIN_LOCK = 7_330_001  # advisory lock id serialising chain appends on PostgreSQL


def on_any_event(event: Event, uow: UnitOfWork) -> None:
    """Append the event to the chain (the inbox makes this exactly-once)."""
    if uow.db.is_postgres:
        uow.session.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": CHAIN_LOCK})
    prev = uow.session.execute(select(t.c.hash).order_by(t.c.seq.desc()).limit(1)).scalar()
    body = canonical(event.to_dict())
    prev_hash = prev or GENESIS
    uow.session.execute(
        insert(t).values(
            event_id=event.event_id,
            event_type=event.event_type,
            event_version=event.event_version,
            producer=event.producer,
            jurisdiction=event.jurisdiction,
            correlation_id=event.correlation_id,
            demand_code=demand_code_of(event.payload),
            occurred_at=event.occurred_at,
            archived_at=datetime.now(UTC),
            body=body,
            prev_hash=prev_hash,
            hash=chain_hash(prev_hash, body),
        )
    )


def trace(svc: Service, code: str, principal: Principal) -> list[dict[str, Any]]:
    """Every archived event of one demand, oldest first, each with its envelope."""
    with svc.db.session() as s:
        rows = s.execute(
            select(t.c.seq, t.c.body, t.c.hash, t.c.jurisdiction, t.c.archived_at)
            .where(t.c.demand_code == code)
            .order_by(t.c.occurred_at, t.c.seq)
        ).all()
    if not rows or not principal.can_see(rows[0].jurisdiction):
        raise ApiError(404, f"No archived events for demand {code} in your jurisdiction.")
    return [
        {
            **json.loads(r.body),
            "archive": {"seq": r.seq, "hash": r.hash, "archived_at": r.archived_at.isoformat()},
        }
        for r in rows
    ]
