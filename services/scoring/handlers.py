"""Scoring use cases."""

from __future__ import annotations

from collections import defaultdict
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import insert, select

from services.scoring.domain import demand_item, period_of
from services.scoring.models import tally_records
from shared.auth import Principal
from shared.db import UnitOfWork
from shared.events import Event, subtree_prefix
from shared.runtime import Service

t = tally_records


def on_assignment_made(event: Event, uow: UnitOfWork) -> None:
    """An owned demand counts as *collected* for its owner in the month it was assigned."""
    p = event.payload
    if p["kind"] != "owner":
        return
    uow.session.execute(
        insert(t).values(
            event_id=event.event_id,
            unit_type=p["assignee_type"],
            unit_id=p["assignee_id"],
            unit_name=p["assignee_name"],
            jurisdiction=event.jurisdiction,
            period=period_of(datetime.fromisoformat(p["assigned_at"])),
            item=demand_item(p["category"]),
            stage="collected",
            demand_code=p["demand_code"],
            recorded_at=datetime.now(UTC),
        )
    )


def on_visit_logged(event: Event, uow: UnitOfWork) -> None:
    """A visit counts for the staff member who made it and for their department, in the
    month it took place (China time)."""
    p = event.payload
    month = p["visited_on"][:7]
    for unit_type, unit_id, name in (
        ("staff", p.get("staff_id"), p.get("staff_name")),
        ("department", p.get("department_id"), p.get("department_name")),
    ):
        if not unit_id:
            continue
        uow.session.execute(
            insert(t).values(
                event_id=event.event_id,
                unit_type=unit_type,
                unit_id=unit_id,
                unit_name=name or unit_id,
                jurisdiction=event.jurisdiction,
                period=month,
                item="visits",
                stage="logged",
                demand_code=None,
                recorded_at=datetime.now(UTC),
            )
        )


def tallies(
    svc: Service, principal: Principal, period: str, unit_id: str | None
) -> list[dict[str, Any]]:
    """Counts per unit, item and stage for one month, each with its records."""
    q = select(t).where(
        t.c.period == period,
        t.c.jurisdiction.startswith(subtree_prefix(principal.jurisdiction)),
    )
    if unit_id:
        q = q.where(t.c.unit_id == unit_id)
    grouped: dict[tuple[str, str, str, str], list[dict[str, Any]]] = defaultdict(list)
    names: dict[str, str] = {}
    with svc.db.session() as s:
        for r in s.execute(q.order_by(t.c.recorded_at)).mappings():
            grouped[(r["unit_type"], r["unit_id"], r["item"], r["stage"])].append(
                {"event_id": r["event_id"], "demand_code": r["demand_code"]}
            )
            names[r["unit_id"]] = r["unit_name"]
    return [
        {
            "unit_type": ut,
            "unit_id": uid,
            "unit_name": names[uid],
            "period": period,
            "item": item,
            "stage": stage,
            "count": len(records),
            "records": records,
        }
        for (ut, uid, item, stage), records in sorted(grouped.items())
    ]
