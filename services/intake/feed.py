"""A demand's updates feed: every step — who, when, what and why — appended, never
changed; and the use case that reads it back."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from sqlalchemy import insert, select

from services.intake.models import demand_updates
from services.intake.reading import load_demand
from shared.auth import Principal
from shared.db import UnitOfWork

APPEND = insert(demand_updates)  # built once: only the values change


def record_update(
    uow: UnitOfWork,
    code: str,
    kind: str,
    actor: str,
    at: datetime,
    *,
    from_status: str | None = None,
    to_status: str | None = None,
    note: str = "",
    details: dict[str, Any] | None = None,
) -> None:
    """Append one step to the demand's updates feed (never updated, never deleted)."""
    uow.session.execute(
        APPEND,
        {
            "demand_code": code,
            "kind": kind,
            "from_status": from_status,
            "to_status": to_status,
            "note": note,
            "details": json.dumps(details or {}, ensure_ascii=False, default=str),
            "actor": actor,
            "at": at,
        },
    )


def updates(uow: UnitOfWork, actor: Principal, code: str) -> list[dict[str, Any]]:
    """The demand's whole feed, oldest first: every transition, screening and revisit."""
    t = demand_updates
    with uow.read() as s:
        load_demand(s, code, actor)
        rows = s.execute(select(t).where(t.c.demand_code == code).order_by(t.c.id)).mappings()
        return [{**dict(r), "details": json.loads(r["details"])} for r in rows]
