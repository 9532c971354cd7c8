"""Co-handling a complex demand (XN 复杂问题应协调多部门、科研单位、专家资源联合处置): the
lead owner's office gives co-tasks to other departments, experts of the pool and research
institutes; each co-handler reports its feedback once; the lead alone closes the demand
(intake's loop), and the co-tasks still open then end with it. Overdue co-tasks are
breaches like the assignments' (``sweep_overdue``), escalated to the lead's leader.

The rules are in ``cotasks``; this module loads, checks, writes and announces
(``cohandling.assigned``, ``.reported``, ``.ended``; scoring counts a department's
reported work as its fact).
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from services.dispatch import cotasks as rules
from services.dispatch.models import (
    assignments,
    breaches,
    cotasks,
    demand_complexity,
    departments,
    experts,
    staff,
)
from services.dispatch.sweep import responsible_leader  # the overdue escalation
from shared.auth import Principal
from shared.contracts import dispatch as contract
from shared.db import UnitOfWork, claim, upsert_later
from shared.events import Event
from shared.timezone import china_today
from shared.usecases import Conflict, Forbidden, Invalid, NotFound

CLOSING = ("closed", "rejected")


def office(s: Session, department_id: str) -> rules.Office | None:
    """A department with its staff (None for an unknown one)."""
    dept = s.execute(select(departments).where(departments.c.id == department_id)).first()
    if dept is None:
        return None
    ids = s.execute(select(staff.c.id).where(staff.c.department_id == department_id)).scalars()
    return rules.Office(dept.id, dept.jurisdiction, frozenset(ids))


def lead_of(s: Session, demand_code: str) -> tuple[Any, rules.Office | None]:
    """The demand's owner assignment (the newest) and the department that leads it."""
    lead = (
        s.execute(
            select(assignments)
            .where(assignments.c.demand_code == demand_code, assignments.c.kind == "owner")
            .order_by(assignments.c.assigned_at.desc())
        )
        .mappings()
        .first()
    )
    if lead is None:
        return None, None
    dept_id = lead["assignee_id"]
    if lead["assignee_type"] == "staff":
        dept_id = s.execute(
            select(staff.c.department_id).where(staff.c.id == lead["assignee_id"])
        ).scalar()
    return lead, office(s, dept_id) if dept_id else None


def _payload(row: dict[str, Any], actor: str, at: datetime) -> dict[str, Any]:
    return {
        "cotask_id": row["id"],
        "demand_code": row["demand_code"],
        "category": row["category"],
        "lead_department_id": row["lead_department_id"],
        "kind": row["kind"],
        "cohandler_id": row["cohandler_id"],
        "cohandler_name": row["cohandler_name"],
        "cohandler_jurisdiction": row["cohandler_jurisdiction"],
        "task": row["task"],
        "due_on": row["due_on"].isoformat(),
        "status": row["status"],
        "outcome": row["outcome"],
        "feedback": row["feedback"],
        "actor": actor,
        "at": at.isoformat(),
    }


def _cohandler(
    s: Session, actor: Principal, data: dict[str, Any]
) -> tuple[str, str, str | None, dict[str, Any]]:
    """(id, name, unit, facts for the rule) of the co-handler the body names."""
    kind, ident = data["kind"], data.get("id") or ""
    if kind == "institute":
        if not data.get("name"):
            raise Invalid.field("name", "an institute is named")
        return "", data["name"], None, {}
    if not ident:
        raise Invalid.field("id", f"the {kind}'s id is required")
    table = departments if kind == "department" else experts
    row = s.execute(select(table).where(table.c.id == ident)).first()
    if row is None or not actor.can_see(row.jurisdiction):
        raise Invalid.field("id", f"unknown {kind}")
    facts: dict[str, Any] = {"department_id": row.id}
    if kind == "expert":
        facts = {"availability": row.availability, "until": row.unavailable_until}
    return row.id, row.name, row.jurisdiction, facts


def add_cohandler(
    uow: UnitOfWork, actor: Principal, code: str, data: dict[str, Any], *, correlation_id: str
) -> dict[str, Any]:
    """Give a co-handler a task on a complex, open demand (``data``: kind, id — or name
    and contact for an institute —, task, due_on). Only the lead owner's office (or the
    offices above it) does; a co-handler outside the demand's jurisdiction, an expert
    unavailable today or a due date in the past are 422s naming the field."""
    now = datetime.now(UTC)
    today = china_today(now)
    with uow:
        s = uow.session
        lead, lead_office = lead_of(s, code)
        if lead is None or not actor.can_see(lead["jurisdiction"]):
            raise NotFound(f"No demand {code} with an owner in your subtree.")
        if lead_office is None or not rules.acts_for(actor, lead_office):
            raise Forbidden("Co-handlers are given by the lead owner's office (or its managers).")
        complexity = s.execute(
            select(demand_complexity.c.complexity).where(demand_complexity.c.demand_code == code)
        ).scalar()
        problem = rules.demand_problem(complexity, lead["status"])
        if problem:
            raise Conflict.field(*problem, where="path")
        due = rules.due_problem(data["due_on"], today)
        if due:
            raise Invalid.field("due_on", due)
        ident, name, unit, facts = _cohandler(s, actor, data)
        problem = rules.cohandler_problem(
            data["kind"],
            unit=unit,
            demand_jurisdiction=lead["jurisdiction"],
            lead_department=lead_office.department_id,
            today=today,
            **facts,
        )
        if problem:
            raise Invalid.field(*problem)
        c = cotasks.c
        taken = {
            (r.kind, r.cohandler_id or r.cohandler_name)
            for r in s.execute(
                select(c.kind, c.cohandler_id, c.cohandler_name).where(
                    c.demand_code == code, c.status != rules.ENDED
                )
            )
        }
        if rules.duplicate(taken, data["kind"], ident or name):
            raise Conflict.field("id", "already co-handles this demand")
        row = {
            "id": str(uuid.uuid4()),
            "demand_code": code,
            "jurisdiction": lead["jurisdiction"],
            "lead_assignment_id": lead["id"],
            "lead_department_id": lead_office.department_id,
            "category": lead["category"],
            "kind": data["kind"],
            "cohandler_id": ident,
            "cohandler_name": name,
            "cohandler_jurisdiction": unit,
            "contact": data.get("contact"),
            "task": data["task"],
            "due_on": data["due_on"],
            "due_at": rules.due_at(data["due_on"]).astimezone(UTC),
            "status": rules.OPEN,
            "assigned_by": actor.key_id,
            "assigned_at": now,
            "outcome": None,
            "feedback": None,
            "reported_by": None,
            "reported_at": None,
            "ended_at": None,
        }
        s.execute(cotasks.insert().values(**row))
        uow.emit(
            contract.cohandling_assigned(
                jurisdiction=lead["jurisdiction"],
                correlation_id=correlation_id,
                payload=_payload(row, actor.key_id, now),
            )
        )
        uow.commit()
    return row


def _visible(actor: Principal, row: Any) -> bool:
    """The demand's offices see its co-tasks; a co-handling department's, its own."""
    if actor.role not in rules.OFFICE_ROLES:
        return False
    return actor.can_see(row["jurisdiction"]) or bool(
        row["cohandler_jurisdiction"] and actor.can_see(row["cohandler_jurisdiction"])
    )


def list_cohandlers(uow: UnitOfWork, actor: Principal, code: str) -> list[dict[str, Any]]:
    """A demand's co-tasks the actor sees, in the order they were given."""
    c = cotasks.c
    with uow.read() as s:
        rows = s.execute(
            select(cotasks).where(c.demand_code == code).order_by(c.assigned_at, c.id)
        ).mappings()
        seen = [dict(r) for r in rows if _visible(actor, r)]
        if not seen:
            lead, _ = lead_of(s, code)
            if lead is None or not actor.can_see(lead["jurisdiction"]):
                raise NotFound(f"No demand {code} with an owner in your subtree.")
    return seen


def report(
    uow: UnitOfWork,
    actor: Principal,
    code: str,
    cotask_id: str,
    data: dict[str, Any],
    *,
    correlation_id: str,
) -> dict[str, Any]:
    """The co-handler's feedback (``data``: outcome done or unable, feedback), once: a
    department's by its own office (or those above it); an expert's or an institute's
    recorded by the lead owner's office."""
    now = datetime.now(UTC)
    with uow:
        s = uow.session
        found = (
            s.execute(select(cotasks).where(cotasks.c.id == cotask_id).with_for_update())
            .mappings()
            .first()
        )
        if found is None or found["demand_code"] != code or not _visible(actor, found):
            raise NotFound(f"No co-task {cotask_id} of demand {code}.")
        row = dict(found)
        reporter = (
            office(s, row["cohandler_id"])
            if row["kind"] == "department"
            else office(s, row["lead_department_id"])
        )
        if reporter is None or not rules.acts_for(actor, reporter):
            who = "co-handling department" if row["kind"] == "department" else "lead owner"
            raise Forbidden(f"This feedback is reported by the {who}'s office.")
        try:
            row["status"] = rules.move("report", row["status"])
        except rules.IllegalMove as exc:
            raise Conflict(str(exc)) from exc
        values = {
            "status": row["status"],
            "outcome": data["outcome"],
            "feedback": data["feedback"],
            "reported_by": actor.key_id,
            "reported_at": now,
        }
        s.execute(update(cotasks).where(cotasks.c.id == cotask_id).values(**values))
        row |= values
        uow.emit(
            contract.cohandling_reported(
                jurisdiction=row["jurisdiction"],
                correlation_id=correlation_id,
                payload=_payload(row, actor.key_id, now),
            )
        )
        uow.commit()
    return row


# --- what the demand's events and the sweep do -----------------------------------------------


def note_complexity(uow: UnitOfWork, demand_code: str, complexity: str | None) -> None:
    """Keep the demand's complexity (``demand.accepted``, ``demand.screened``)."""
    if complexity:  # written later: a batch's in one executemany
        upsert_later(
            uow, demand_complexity, {"demand_code": demand_code}, {"complexity": complexity}
        )


def end_with_demand(uow: UnitOfWork, event: Event) -> int:
    """A demand closed (by its lead) or rejected: its open co-tasks end with it
    (``ended_with_demand``); returns how many."""
    p = event.payload
    if p["to_status"] not in CLOSING:
        return 0
    now = datetime.now(UTC)
    c = cotasks.c
    rows = (
        uow.session.execute(
            select(cotasks)
            .where(c.demand_code == p["demand_code"], c.status == rules.OPEN)
            .order_by(c.id)
            .with_for_update()
        )
        .mappings()
        .all()
    )
    for r in rows:
        row = dict(r) | {"status": rules.move("end", r["status"]), "ended_at": now}
        uow.session.execute(
            update(cotasks).where(c.id == r["id"]).values(status=row["status"], ended_at=now)
        )
        uow.emit(
            contract.cohandling_ended(
                jurisdiction=r["jurisdiction"],
                correlation_id=event.correlation_id,
                payload=_payload(row, "dispatch", now),
            )
        )
    return len(rows)


def sweep_overdue(uow: UnitOfWork, now: datetime | None = None) -> int:
    """Announce each open co-task past its due date once (``assignment.deadline``, kind
    ``cohandler``, kept in ``breaches``), escalated to the lead department's leader."""
    now = now or datetime.now(UTC)
    c, b = cotasks.c, breaches.c
    done = 0
    with uow:
        s = uow.session
        announced = (
            select(b.assignment_id).where(b.assignment_id == c.id, b.level == "overdue").exists()
        )
        rows = s.execute(
            select(cotasks)
            .where(c.status == rules.OPEN, c.due_at <= now, ~announced)
            .order_by(c.due_at, c.id)
            .limit(500)
        ).all()
        for r in rows:
            leader = responsible_leader(s, r.demand_code)
            if not claim(
                s,
                uow.db,
                breaches,
                assignment_id=r.id,
                level="overdue",
                demand_code=r.demand_code,
                jurisdiction=r.jurisdiction,
                due_at=r.due_at,
                escalated_to=leader["staff_id"] if leader else None,
                at=now,
            ):
                continue
            done += 1
            uow.emit(
                contract.deadline(
                    jurisdiction=r.jurisdiction,
                    payload={
                        "assignment_id": r.id,
                        "demand_code": r.demand_code,
                        "kind": "cohandler",
                        "assignee_id": r.cohandler_id or r.cohandler_name,
                        "level": "overdue",
                        "due_at": r.due_at.isoformat(),
                        "escalate_to": leader,
                        "at": now.isoformat(),
                    },
                )
            )
        uow.commit()
    return done
