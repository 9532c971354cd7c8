"""The facts behind the A.1 items for one month, week or day, per unit, with their
records."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping
from typing import Any

from sqlalchemy import select

from services.scoring.domain.facts import demand_item, parse_period
from services.scoring.models import demand_facts, demand_owners, tally_records
from services.scoring.spans import selects
from shared.auth import Principal
from shared.db import UnitOfWork
from shared.events import subtree_prefix


def tallies(uow: UnitOfWork, actor: Principal, query: Mapping[str, Any]) -> list[dict[str, Any]]:
    """Counts per unit, item and stage for one month, week or day (``query``: ``period``,
    optionally ``unit_id``), each with its records: visits, and the facts of the demands
    each unit owns, in the actor's subtree."""
    period, unit_id = parse_period(query["period"]), query.get("unit_id")
    prefix = subtree_prefix(actor.jurisdiction)
    grouped: dict[tuple[str, str, str, str], list[dict[str, Any]]] = defaultdict(list)
    names: dict[str, str] = {}
    t, f, o = tally_records.c, demand_facts.c, demand_owners.c
    q = select(tally_records).where(
        selects(period, t.period, day=t.day), t.jurisdiction.startswith(prefix)
    )
    if unit_id:
        q = q.where(t.unit_id == unit_id)
    dq = (
        select(
            demand_facts, o.unit_type, o.unit_id, o.unit_name, o.category.label("owner_category")
        )
        .join(demand_owners, o.demand_code == f.demand_code)
        .where(
            selects(period, f.period, at=f.at),
            f.jurisdiction.startswith(prefix),
            f.fact != "accepted",
        )
    )
    if unit_id:
        dq = dq.where(o.unit_id == unit_id)
    with uow.read() as s:
        for r in s.execute(q.order_by(t.recorded_at)).mappings():
            grouped[(r["unit_type"], r["unit_id"], r["item"], r["stage"])].append(
                {"event_id": r["event_id"], "demand_code": r["demand_code"]}
            )
            names[r["unit_id"]] = r["unit_name"]
        for r in s.execute(dq.order_by(f.at)).mappings():
            item = demand_item(r["owner_category"])
            grouped[(r["unit_type"], r["unit_id"], item, r["fact"])].append(
                {"event_id": r["event_id"], "demand_code": r["demand_code"]}
            )
            names[r["unit_id"]] = r["unit_name"]
    return [
        {
            "unit_type": ut,
            "unit_id": uid,
            "unit_name": names[uid],
            "period": period.label,
            "item": item,
            "stage": stage,
            "count": len(records),
            "records": records,
        }
        for (ut, uid, item, stage), records in sorted(grouped.items())
    ]
