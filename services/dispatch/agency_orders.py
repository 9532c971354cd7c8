"""An agency order's life: the agency acknowledges, refuses or completes it, the office
files complaints about it, everyone reads it (an agency: its own only). Every move goes
through ``step`` (the state machine of ``order_life``), recorded and announced.

A refusal's coordination and a reassignment (调单), which take an order from one agency
and give it to the next, are in ``coordination``.
"""

from __future__ import annotations

import json
from datetime import UTC, date, datetime
from typing import Any

from sqlalchemy import insert, select, update

from services.dispatch.city_alliance import current_rules, lock_city
from services.dispatch.models import assignments, complaints, decisions, order_events
from services.dispatch.order_life import (
    NO_LONGER_HANDLING,
    OPEN_STATUSES,
    IllegalAction,
    order_step,
)
from services.dispatch.terms import settlement_due
from shared.auth import Principal
from shared.contracts import dispatch as contract
from shared.db import UnitOfWork
from shared.events import subtree_prefix
from shared.timezone import china_today
from shared.usecases import Conflict, Forbidden, Invalid, NotFound

NOT_HERE = "Owner assignments are moved through the demand's loop, not here."
OF_YOURS = "No assignment {} of yours."


def visible_to(actor: Principal, row: Any) -> bool:
    """Whether the actor may see an assignment at all: an agency key sees agency orders
    (its own, or a 403 for another's), an office key those of its subtree."""
    if actor.role == "agency":
        return bool(row["assignee_type"] == "agency")
    return actor.can_see(row["jurisdiction"])


def load_order(
    uow: UnitOfWork,
    assignment_id: str,
    actor: Principal,
    *,
    lock: bool = True,
    missing: str = "No assignment {}.",
) -> dict[str, Any]:
    """The assignment (locked for a move unless ``lock`` is off): NotFound (``missing``)
    unless visible to the actor, Forbidden for another agency's order."""
    q = select(assignments).where(assignments.c.id == assignment_id)
    row = uow.session.execute(q.with_for_update() if lock else q).mappings().first()
    if row is None or not visible_to(actor, row):
        raise NotFound(missing.format(assignment_id))
    if actor.role == "agency" and row["assignee_id"] != actor.agency_id:
        raise Forbidden("This order is assigned to another agency.")
    return dict(row)


def managed_order(uow: UnitOfWork, assignment_id: str, actor: Principal) -> dict[str, Any]:
    """An agency order for a decision that can move it on or expel its agency: only the
    managers of the city's alliance (admin or district keys over the city) take it. The
    city's lock is taken first, in the same order as every dispatch decision and the
    month close (city, then order, then agency), so concurrent ones serialise."""
    peek = uow.session.execute(
        select(assignments.c.city, assignments.c.jurisdiction, assignments.c.kind).where(
            assignments.c.id == assignment_id
        )
    ).first()
    if peek is None or not actor.can_see(peek.jurisdiction):
        raise NotFound(f"No assignment {assignment_id}.")
    if peek.kind != "agency" or peek.city is None:
        raise Conflict("Only agency orders are coordinated or reassigned (调单).")
    if not actor.can_see(peek.city):
        raise Forbidden(
            f"Coordination and reassignment belong to the managers of {peek.city}'s alliance."
        )
    lock_city(uow, peek.city)
    return load_order(uow, assignment_id, actor)


def next_status(order: dict[str, Any], action: str) -> str:
    """Where ``action`` moves an agency order; Conflict when it may not."""
    if order["kind"] != "agency":
        raise Conflict(NOT_HERE)
    try:
        return order_step(action, order["status"])
    except IllegalAction as exc:
        raise Conflict(str(exc)) from exc


def step(
    uow: UnitOfWork,
    order: dict[str, Any],
    action: str,
    note: str,
    by: str,
    correlation_id: str,
    **extra: Any,
) -> str:
    """Move an agency order by ``action`` (Conflict when illegal), record and announce it;
    ``by`` is the key (or system) acting, ``extra`` more columns to set."""
    to = next_status(order, action)
    now = datetime.now(UTC)
    values: dict[str, Any] = {"status": to, **extra}
    if to in ("completed", "reassigned", "withdrawn"):
        values["closed_at"] = now
    if to in NO_LONGER_HANDLING and not order["consent_to_share"]:
        values["brief"] = None  # the agency no longer handles the demand
    uow.session.execute(update(assignments).where(assignments.c.id == order["id"]).values(**values))
    uow.session.execute(
        insert(order_events).values(
            assignment_id=order["id"],
            action=action,
            from_status=order["status"],
            to_status=to,
            note=note[:2000],
            actor=by,
            at=now,
        )
    )
    uow.emit(
        contract.assignment_status_changed(
            jurisdiction=order["jurisdiction"],
            payload=status_changed(order, action, to, note, by, now, extra),
            correlation_id=correlation_id,
        )
    )
    if to == "withdrawn" or to == "reassigned":
        uow.emit(
            contract.order_withdrawn(
                jurisdiction=order["jurisdiction"],
                audience=order["assignee_id"],
                correlation_id=correlation_id,
                payload={
                    "assignment_id": order["id"],
                    "demand_code": order["demand_code"],
                    "agency_id": order["assignee_id"],
                    "reason": note or action,
                    "at": now.isoformat(),
                },
            )
        )
    order["status"] = to
    return to


def status_changed(
    order: dict[str, Any],
    action: str,
    to: str,
    note: str,
    by: str,
    now: datetime,
    extra: dict[str, Any],
) -> dict[str, Any]:
    """``assignment.status_changed`` of one step (with the completion's facts)."""
    payload: dict[str, Any] = {
        "assignment_id": order["id"],
        "demand_code": order["demand_code"],
        "assignee_type": order["assignee_type"],
        "assignee_id": order["assignee_id"],
        "action": action,
        "from_status": order["status"],
        "to_status": to,
        "note": note,
        "actor": by,
        "at": now.isoformat(),
    }
    for k in ("goal_reached", "funds_received_on", "settlement_due"):
        if k in extra:
            v = extra[k]
            payload[k] = v.isoformat() if isinstance(v, date) else v
    return payload


# --- the agency's own steps -------------------------------------------------------------

AGENCY_ONLY = ("acknowledge", "complete", "refuse")


def act(
    uow: UnitOfWork,
    actor: Principal,
    assignment_id: str,
    action: str,
    data: dict[str, Any],
    *,
    correlation_id: str,
) -> dict[str, Any]:
    """The agency acknowledges (``data``: ``note``), refuses (``reason``; the office then
    coordinates) or completes (``goal_reached``, ``funds_received_on``, ``note``) its own
    order; a completion's settlement is due the city's settlement days after the policy
    funds (第十九条)."""
    extra: dict[str, Any] = {}
    if action == "complete":
        funds = data["funds_received_on"]
        if funds is not None and funds > china_today():
            raise Invalid(
                "The funds cannot be received in the future.",
                fields={"json": {"funds_received_on": ["in the future"]}},
            )
        extra = {"goal_reached": data["goal_reached"], "funds_received_on": funds}
    note = data["reason"] if action == "refuse" else data["note"]
    with uow:
        order = load_order(uow, assignment_id, actor)
        if actor.role != "agency" and action in AGENCY_ONLY:
            raise Forbidden(f"Only the agency itself can {action} its order.")
        if order["kind"] != "agency":
            raise Conflict(NOT_HERE)
        if action == "complete":
            funds = extra["funds_received_on"]
            _, rules = current_rules(uow.session, order["city"], china_today())
            extra["settlement_due"] = settlement_due(funds, rules) if funds else None
        step(uow, order, action, note, actor.key_id, correlation_id, **extra)
        uow.commit()
    return get_order(uow, actor, assignment_id)


def complain(
    uow: UnitOfWork,
    actor: Principal,
    assignment_id: str,
    data: dict[str, Any],
    *,
    correlation_id: str,
) -> dict[str, Any]:
    """A complaint about an agency order (``data``: ``source``, ``text``)."""
    source, text = data["source"], data["text"]
    with uow:
        order = load_order(uow, assignment_id, actor)
        if order["kind"] != "agency":
            raise Conflict("Complaints are about agency orders.")
        now = datetime.now(UTC)
        cid = uow.session.execute(
            insert(complaints)
            .values(
                assignment_id=assignment_id, source=source, text=text, actor=actor.key_id, at=now
            )
            .returning(complaints.c.id)
        ).scalar_one()
        uow.emit(
            contract.complaint_filed(
                jurisdiction=order["jurisdiction"],
                correlation_id=correlation_id,
                payload={
                    "assignment_id": assignment_id,
                    "demand_code": order["demand_code"],
                    "assignee_id": order["assignee_id"],
                    "source": source,
                    "complaint_id": cid,
                    "actor": actor.key_id,
                    "at": now.isoformat(),
                },
            )
        )
        uow.commit()
    return {"id": cid, "assignment_id": assignment_id, "source": source, "text": text, "at": now}


# --- reading ----------------------------------------------------------------------------


def get_order(uow: UnitOfWork, actor: Principal, assignment_id: str) -> dict[str, Any]:
    """One assignment with its decision, history and complaints (an agency: its own only)."""
    with uow.read() as s:
        row = (
            s.execute(select(assignments).where(assignments.c.id == assignment_id))
            .mappings()
            .first()
        )
        if row is None or not (
            visible_to(actor, row)
            and (actor.role != "agency" or row["assignee_id"] == actor.agency_id)
        ):
            raise NotFound(OF_YOURS.format(assignment_id))
        out = dict(row)
        out["details"] = json.loads(out.pop("brief")) if out.get("brief") else None
        out["decision"] = None
        if row["decision_id"] is not None:
            d = s.execute(select(decisions).where(decisions.c.id == row["decision_id"])).first()
            if d is not None:
                out["decision"] = {"id": d.id, **json.loads(d.explanation)}
                if actor.role == "agency":  # other agencies' reasons are not theirs to read
                    out["decision"]["skipped"] = []
        out["history"] = [
            dict(r)
            for r in s.execute(
                select(order_events)
                .where(order_events.c.assignment_id == assignment_id)
                .order_by(order_events.c.id)
            ).mappings()
        ]
        out["complaints"] = (
            []
            if actor.role == "agency"
            else [
                dict(r)
                for r in s.execute(
                    select(complaints)
                    .where(complaints.c.assignment_id == assignment_id)
                    .order_by(complaints.c.id)
                ).mappings()
            ]
        )
    return out


def list_assignments(
    uow: UnitOfWork, actor: Principal, query: dict[str, Any]
) -> list[dict[str, Any]]:
    """Assignments in the actor's subtree, newest first (an agency: its own orders)."""
    a = assignments.c
    q = select(assignments).where(a.jurisdiction.startswith(subtree_prefix(actor.jurisdiction)))
    if actor.role == "agency":  # an agency sees only its own assignments
        q = q.where(a.assignee_type == "agency", a.assignee_id == actor.agency_id)
    for name in ("demand_code", "kind", "status"):
        if query.get(name):
            q = q.where(a[name] == query[name])
    if query.get("agency_id"):
        q = q.where(a.assignee_type == "agency", a.assignee_id == query["agency_id"])
    if query.get("overdue"):
        q = q.where(a.status.in_(("open", *OPEN_STATUSES)), a.due_at < datetime.now(UTC))
    with uow.read() as s:
        rows = s.execute(q.order_by(a.assigned_at.desc()).limit(query["limit"])).mappings()
        return [{k: v for k, v in r.items() if k != "brief"} for r in rows]
