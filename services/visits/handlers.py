"""Visits use cases."""

from __future__ import annotations

from dataclasses import asdict
from datetime import datetime
from typing import Any

from sqlalchemy import insert, select, update

from services.visits.domain import EnterpriseLink, link_owner
from services.visits.models import enterprise_links
from shared.auth import Principal
from shared.db import UnitOfWork
from shared.events import Event, subtree_prefix
from shared.runtime import Service

t = enterprise_links


def on_assignment_made(event: Event, uow: UnitOfWork) -> None:
    """An owner assignment makes that unit responsible for visiting the enterprise."""
    p = event.payload
    if p["kind"] != "owner":
        return
    new = EnterpriseLink(
        enterprise_credit_code=p["enterprise_credit_code"],
        unit_type=p["assignee_type"],
        unit_id=p["assignee_id"],
        unit_name=p["assignee_name"],
        jurisdiction=event.jurisdiction,
        since=datetime.fromisoformat(p["assigned_at"]),
        last_demand_code=p["demand_code"],
    )
    key = (
        (t.c.enterprise_credit_code == new.enterprise_credit_code)
        & (t.c.unit_type == new.unit_type)
        & (t.c.unit_id == new.unit_id)
    )
    row = uow.session.execute(select(t).where(key)).mappings().first()
    existing = EnterpriseLink(**row) if row else None
    merged = asdict(link_owner(existing, new))
    if existing is None:
        uow.session.execute(insert(t).values(**merged))
    else:
        uow.session.execute(update(t).where(key).values(**merged))


def list_links(
    svc: Service, principal: Principal, enterprise: str | None, unit_id: str | None, limit: int
) -> list[dict[str, Any]]:
    q = select(t).where(t.c.jurisdiction.startswith(subtree_prefix(principal.jurisdiction)))
    if enterprise:
        q = q.where(t.c.enterprise_credit_code == enterprise)
    if unit_id:
        q = q.where(t.c.unit_id == unit_id)
    with svc.db.session() as s:
        rows = s.execute(q.order_by(t.c.since.desc()).limit(limit)).mappings()
        return [dict(r) for r in rows]
