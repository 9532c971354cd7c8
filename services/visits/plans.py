"""Visit plans (the weekly and quarterly plans of SX and XM): planned → done (with the
visit that did it) / missed / cancelled; plans not done by their day are missed by the
worker's sweep. Every step is announced (``visit.plan_status_changed``)."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, date, datetime, timedelta
from typing import Any

from sqlalchemy import insert, select, update
from sqlalchemy.orm import Session

from services.visits.domain import period_arg, plan_step
from services.visits.metrics import PLANS_MISSED
from services.visits.models import plans, visit_enterprises, visits
from services.visits.parties import resolve
from shared.auth import Principal
from shared.contracts import visits as contract
from shared.db import UnitOfWork
from shared.events import subtree_prefix
from shared.timezone import china_today
from shared.usecases import Conflict, Invalid, NotFound

MISSED = "not done by the planned day"


def create_plan(
    uow: UnitOfWork,
    actor: Principal,
    command: dict[str, Any],
    *,
    correlation_id: str | None = None,
) -> dict[str, Any]:
    if command["planned_on"] < china_today():
        raise Invalid.field("planned_on", "a plan is for today or later")
    with uow:
        who = resolve(
            uow.session, actor, {**command, "visited_on": china_today(), "demands_raised": []}
        )
        plan_id = str(uuid.uuid4())
        values = {
            "id": plan_id,
            "jurisdiction": who["jurisdiction"],
            "staff_id": command.get("staff_id"),
            "department_id": who["department_id"],
            "team_id": command.get("team_id"),
            "enterprises": json.dumps([e["credit_code"] for e in who["enterprises"]]),
            "planned_on": command["planned_on"],
            "kind": command["kind"],
            "note": command.get("note") or "",
            "status": "planned",
            "created_by": actor.key_id,
            "updated_at": datetime.now(UTC),
        }
        uow.session.execute(insert(plans).values(**values))
        _announce(uow, values, None, "planned", None, None, actor.key_id, correlation_id)
        uow.commit()
    return get_plan(uow, actor, plan_id)


def _announce(
    uow: UnitOfWork,
    plan: dict[str, Any],
    from_status: str | None,
    to: str,
    reason: str | None,
    visit_id: str | None,
    actor: str,
    cid: str | None,
) -> None:
    uow.emit(
        contract.plan_status_changed(
            jurisdiction=plan["jurisdiction"],
            correlation_id=cid,
            payload={
                "plan_id": plan["id"],
                "from_status": from_status,
                "to_status": to,
                "planned_on": plan["planned_on"].isoformat(),
                "reason": reason,
                "visit_id": visit_id,
                "actor": actor,
                "at": datetime.now(UTC).isoformat(),
            },
        )
    )


def get_plan(uow: UnitOfWork, actor: Principal, plan_id: str) -> dict[str, Any]:
    with uow.read() as s:
        row = s.execute(select(plans).where(plans.c.id == plan_id)).mappings().first()
    if row is None or not actor.can_see(row["jurisdiction"]):
        raise NotFound(f"No plan {plan_id}.")
    return {**dict(row), "enterprises": json.loads(row["enterprises"])}


def list_plans(uow: UnitOfWork, actor: Principal, args: dict[str, Any]) -> list[dict[str, Any]]:
    p = plans.c
    q = select(plans).where(p.jurisdiction.startswith(subtree_prefix(actor.jurisdiction)))
    for name in ("status", "staff_id", "department_id", "team_id"):
        if args.get(name):
            q = q.where(p[name] == args[name])
    if args.get("period"):
        period = period_arg(args["period"])
        q = q.where(p.planned_on >= period.start, p.planned_on <= period.end)
    with uow.read() as s:
        rows = s.execute(q.order_by(p.planned_on, p.id).limit(args["limit"])).mappings()
        return [{**dict(r), "enterprises": json.loads(r["enterprises"])} for r in rows]


def move_plan(
    uow: UnitOfWork,
    actor: Principal,
    plan_id: str,
    action: str,
    command: dict[str, Any],
    *,
    correlation_id: str | None = None,
) -> dict[str, Any]:
    """planned → done (with the visit that did it) / missed / cancelled (with a reason)."""
    visit_id = command.get("visit_id")
    with uow:
        row = (
            uow.session.execute(select(plans).where(plans.c.id == plan_id).with_for_update())
            .mappings()
            .first()
        )
        if row is None or not actor.can_see(row["jurisdiction"]):
            raise NotFound(f"No plan {plan_id}.")
        try:
            to = plan_step(action, row["status"])
        except ValueError as exc:
            raise Conflict(str(exc)) from None
        if action == "done":
            _check_done_by(uow.session, actor, row, visit_id)
        uow.session.execute(
            update(plans)
            .where(plans.c.id == plan_id)
            .values(
                status=to,
                reason=command.get("reason"),
                visit_id=visit_id,
                updated_at=datetime.now(UTC),
            )
        )
        reason = command.get("reason")
        _announce(uow, dict(row), row["status"], to, reason, visit_id, actor.key_id, correlation_id)
        uow.commit()
    if to == "missed":
        PLANS_MISSED.inc()
    return get_plan(uow, actor, plan_id)


def _check_done_by(s: Session, actor: Principal, plan: Any, visit_id: str | None) -> None:
    """The visit that did a plan: in the subtree, by the planned unit, to one of the
    planned enterprises, no more than a week before the planned day."""
    v = s.execute(select(visits).where(visits.c.id == visit_id)).first()
    if v is None or not actor.can_see(v.jurisdiction):
        raise Invalid.field("visit_id", "no such visit in your subtree")
    who = ("staff_id", "department_id", "team_id")
    if any(plan[k] and plan[k] != getattr(v, k) for k in who):
        raise Invalid.field("visit_id", "the visit was made by another unit")
    visited = set(
        s.execute(
            select(visit_enterprises.c.credit_code).where(visit_enterprises.c.visit_id == visit_id)
        ).scalars()
    )
    if not visited & set(json.loads(plan["enterprises"])):
        raise Invalid.field("visit_id", "the visit did not go to the planned enterprises")
    if v.visited_on < plan["planned_on"] - timedelta(days=7):
        raise Invalid.field("visit_id", "the visit took place before the plan")


def miss_overdue_plans(uow: UnitOfWork, today: date) -> int:
    """Plans still ``planned`` after their day become ``missed`` (safe with several
    workers: each row is re-checked under its lock)."""
    with uow:
        s = uow.session
        ids = (
            s.execute(
                select(plans.c.id).where(plans.c.status == "planned", plans.c.planned_on < today)
            )
            .scalars()
            .all()
        )
        n = 0
        for plan_id in ids:
            row = (
                s.execute(
                    select(plans)
                    .where(plans.c.id == plan_id, plans.c.status == "planned")
                    .with_for_update()
                )
                .mappings()
                .first()
            )
            if row is None:
                continue
            s.execute(
                update(plans)
                .where(plans.c.id == plan_id)
                .values(status="missed", reason=MISSED, updated_at=datetime.now(UTC))
            )
            _announce(uow, dict(row), "planned", "missed", MISSED, None, "visits", None)
            n += 1
        uow.commit()
    PLANS_MISSED.inc(n)
    return n
