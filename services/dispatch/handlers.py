"""Dispatch use cases."""

from __future__ import annotations

import json
import logging
import uuid
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import insert, select, update

from services.dispatch.alliance import OPEN_STATUSES
from services.dispatch.domain import Department, OwnerDecision, Person, choose_owner
from services.dispatch.metrics import OWNERS
from services.dispatch.models import (
    agencies,
    assignments,
    blacklist,
    breaches,
    decisions,
    departments,
    enterprises,
    menu_items,
    staff,
)
from services.dispatch.orders import dispatch_to_agency, step
from shared.auth import Principal
from shared.contracts import dispatch as contract
from shared.db import UnitOfWork, upsert
from shared.errors import ApiError
from shared.events import Event, jurisdiction_path, subtree_prefix
from shared.runtime import Service
from shared.scoping import require_visible

log = logging.getLogger(__name__)


def _departments(uow: UnitOfWork, jurisdiction: str) -> list[Department]:
    """The departments of the jurisdiction and its ancestors (the candidates)."""
    path = jurisdiction_path(jurisdiction)
    rows = uow.session.execute(
        select(departments).where(departments.c.jurisdiction.in_(path))
    ).all()
    return [
        Department(
            id=r.id,
            jurisdiction=r.jurisdiction,
            name=r.name,
            segments=tuple(s for s in r.segments.split(",") if s),
            is_default=r.is_default,
        )
        for r in rows
    ]


def _owner_decision(uow: UnitOfWork, event: Event) -> OwnerDecision | None:
    p = event.payload
    ent = uow.session.execute(
        select(enterprises).where(enterprises.c.credit_code == p["enterprise"]["credit_code"])
    ).first()
    person = None
    if ent is not None and ent.named_staff_id:
        st = uow.session.execute(select(staff).where(staff.c.id == ent.named_staff_id)).first()
        person = Person(st.id, st.name) if st is not None else None
    return choose_owner(
        event.jurisdiction,
        p["category"],
        _departments(uow, event.jurisdiction),
        growth_tier=ent.growth_tier if ent is not None else None,
        needs_person=bool(ent and (ent.is_key or ent.needs_named_person or ent.needs_one_plan)),
        person=person,
    )


def on_demand_accepted(event: Event, uow: UnitOfWork) -> None:
    """Give the demand its responsible owner (or raise an alert when none exists) and,
    when its service item needs a market service, dispatch it to a member agency."""
    p = event.payload
    due_at = datetime.fromisoformat(p["expected_at"]) if p.get("expected_at") else None
    decision = _owner_decision(uow, event)
    if decision is None:
        log.warning("no responsible department for %s", p["demand_code"])
        OWNERS.labels("none").inc()
        uow.emit(
            contract.assignment_failed(
                jurisdiction=event.jurisdiction,
                payload={
                    "demand_code": p["demand_code"],
                    "reason": "no responsible department on the jurisdiction path",
                    "kind": "owner",
                },
                correlation_id=event.correlation_id,
            )
        )
    else:
        _assign_owner(uow, event, decision, due_at)
    if p.get("agency_category") and p.get("service_item"):
        contact = p.get("contact")
        dispatch_to_agency(
            uow,
            demand_code=p["demand_code"],
            jurisdiction=event.jurisdiction,
            enterprise=p["enterprise"],
            category=p["category"],
            service_item=p["service_item"],
            agency_category=p["agency_category"],
            ordered=p.get("ordered_agency"),
            consent=p["consent_to_share"],
            brief={"title": p["title"], "description": p["description"], "contact": contact},
            due_at=due_at,
            correlation_id=event.correlation_id,
        )


def _assign_owner(
    uow: UnitOfWork, event: Event, decision: OwnerDecision, due_at: datetime | None
) -> None:
    p = event.payload
    now = datetime.now(UTC)
    dept = decision.department
    if decision.person is not None:
        assignee = ("staff", decision.person.id, decision.person.name)
        OWNERS.labels("staff").inc()
    else:
        assignee = ("department", dept.id, dept.name)
        OWNERS.labels("named_person_missing" if decision.person_missing else "department").inc()
    row = {
        "id": str(uuid.uuid4()),
        "demand_code": p["demand_code"],
        "jurisdiction": event.jurisdiction,
        "kind": "owner",
        "assignee_type": assignee[0],
        "assignee_id": assignee[1],
        "assignee_name": assignee[2],
        "enterprise_credit_code": p["enterprise"]["credit_code"],
        "category": p["category"],
        "reason": decision.reason[:500],
        "assigned_at": now,
        "status": "open",
        "due_at": due_at,
    }
    uow.session.execute(insert(assignments).values(**row))
    log.info("demand %s owned by %s (%s)", p["demand_code"], assignee[1], decision.reason)
    payload = {k: v for k, v in row.items() if k not in ("jurisdiction", "status", "due_at")}
    payload["assignment_id"] = payload.pop("id")
    payload["assigned_at"] = now.isoformat()
    payload["due_at"] = due_at.isoformat() if due_at else None
    uow.emit(
        contract.assignment_made(
            jurisdiction=event.jurisdiction,
            payload=payload,
            correlation_id=event.correlation_id,
        )
    )


def on_enterprise(event: Event, uow: UnitOfWork) -> None:
    """Keep the enterprise profile whose flags pick named owners (newest event wins)."""
    p = event.payload
    values = {
        "name": p["name"],
        "jurisdiction": p["jurisdiction"],
        "growth_tier": p.get("growth_tier"),
        "is_key": p["is_key"],
        "needs_named_person": p["needs_named_person"],
        "needs_one_plan": p["needs_one_plan"],
    }
    upsert(uow.session, enterprises, {"credit_code": p["credit_code"]}, values)


def on_demand_screened(event: Event, uow: UnitOfWork) -> None:
    """Screening recomputed the deadline: the open assignments' time limit follows it."""
    p = event.payload
    uow.session.execute(
        update(assignments)
        .where(assignments.c.demand_code == p["demand_code"], assignments.c.closed_at.is_(None))
        .values(due_at=datetime.fromisoformat(p["expected_at"]))
    )


def on_demand_status_changed(event: Event, uow: UnitOfWork) -> None:
    """A closed or rejected demand ends its owner assignment and withdraws open agency
    orders (a rejected demand is never left with an agency)."""
    p = event.payload
    if p["to_status"] not in ("closed", "rejected"):
        if p["from_status"] == "closed":  # reopened by a poor revisit: the owner follows up
            uow.session.execute(
                update(assignments)
                .where(assignments.c.demand_code == p["demand_code"], assignments.c.kind == "owner")
                .values(status="open", closed_at=None)
            )
        return
    now = datetime.now(UTC)
    uow.session.execute(
        update(assignments)
        .where(
            assignments.c.demand_code == p["demand_code"],
            assignments.c.kind == "owner",
            assignments.c.status == "open",
        )
        .values(status="done", closed_at=now)
    )
    orders = (
        uow.session.execute(
            select(assignments).where(
                assignments.c.demand_code == p["demand_code"],
                assignments.c.kind == "agency",
                assignments.c.status.in_(OPEN_STATUSES),
            )
        )
        .mappings()
        .all()
    )
    for order in orders:
        step(
            uow,
            dict(order),
            "withdraw",
            f"the demand was {p['to_status']}",  # not the loop's note: it may be confidential
            "dispatch",
            event.correlation_id,
        )


def list_assignments(
    svc: Service, principal: Principal, args: dict[str, Any]
) -> list[dict[str, Any]]:
    a = assignments.c
    q = select(assignments).where(a.jurisdiction.startswith(subtree_prefix(principal.jurisdiction)))
    if principal.role == "agency":  # an agency sees only its own assignments
        q = q.where(a.assignee_type == "agency", a.assignee_id == principal.agency_id)
    for name in ("demand_code", "kind", "status"):
        if args.get(name):
            q = q.where(a[name] == args[name])
    if args.get("agency_id"):
        q = q.where(a.assignee_type == "agency", a.assignee_id == args["agency_id"])
    if args.get("overdue"):
        q = q.where(a.status.in_(("open", *OPEN_STATUSES)), a.due_at < datetime.now(UTC))
    with svc.db.session() as s:
        rows = s.execute(q.order_by(a.assigned_at.desc()).limit(args["limit"])).mappings()
        return [{k: v for k, v in r.items() if k != "brief"} for r in rows]


def list_decisions(
    svc: Service, principal: Principal, demand_code: str | None, limit: int
) -> list[dict[str, Any]]:
    """Dispatch decisions with their explanations, in the caller's subtree."""
    d = decisions.c
    q = select(decisions).where(d.jurisdiction.startswith(subtree_prefix(principal.jurisdiction)))
    if demand_code:
        q = q.where(d.demand_code == demand_code)
    with svc.db.session() as s:
        rows = s.execute(q.order_by(d.id.desc()).limit(limit)).mappings().all()
        return [{**dict(r), "explanation": json.loads(r["explanation"])} for r in rows]


def list_breaches(svc: Service, principal: Principal, limit: int) -> list[dict[str, Any]]:
    b = breaches.c
    q = select(breaches).where(b.jurisdiction.startswith(subtree_prefix(principal.jurisdiction)))
    with svc.db.session() as s:
        return [dict(r) for r in s.execute(q.order_by(b.at.desc()).limit(limit)).mappings()]


def list_departments(svc: Service, principal: Principal) -> list[dict[str, Any]]:
    q = select(departments).where(
        departments.c.jurisdiction.startswith(subtree_prefix(principal.jurisdiction))
    )
    with svc.db.session() as s:
        return [
            {**dict(r), "segments": [x for x in r["segments"].split(",") if x]}
            for r in s.execute(q.order_by(departments.c.id)).mappings()
        ]


def put_department(
    svc: Service, principal: Principal, dept_id: str, data: dict[str, Any]
) -> dict[str, Any]:
    """Create or replace one entry of the responsibility map (包保责任部室)."""
    require_visible(principal, data["jurisdiction"])
    values = {
        "jurisdiction": data["jurisdiction"],
        "name": data["name"],
        "segments": ",".join(sorted(set(data["segments"]))),
        "is_default": data["is_default"],
        "leader_staff_id": data.get("leader_staff_id"),
    }
    with svc.uow() as uow:
        s = uow.session
        old = s.execute(select(departments).where(departments.c.id == dept_id)).first()
        if old is not None:
            require_visible(principal, old.jurisdiction)
        if values["leader_staff_id"] and not (
            (
                leader := s.execute(
                    select(departments.c.jurisdiction)
                    .join(staff, staff.c.department_id == departments.c.id)
                    .where(staff.c.id == values["leader_staff_id"])
                ).first()
            )
            and principal.can_see(leader.jurisdiction)
        ):
            raise ApiError(
                422,
                "Unknown staff member.",
                fields={"json": {"leader_staff_id": ["unknown staff id"]}},
            )
        if old is None:
            s.execute(insert(departments).values(id=dept_id, **values))
        else:
            s.execute(update(departments).where(departments.c.id == dept_id).values(**values))
        emit_department(uow, dept_id, values)
        uow.commit()
    return {"id": dept_id, **values, "segments": sorted(set(data["segments"]))}


def emit_department(uow: UnitOfWork, dept_id: str, values: dict[str, Any]) -> None:
    segments = values["segments"]
    uow.emit(
        contract.department_updated(
            jurisdiction=values["jurisdiction"],
            payload={
                "id": dept_id,
                "jurisdiction": values["jurisdiction"],
                "name": values["name"],
                "segments": sorted(x for x in segments.split(",") if x)
                if isinstance(segments, str)
                else sorted(segments),
                "is_default": values["is_default"],
                "leader_staff_id": values.get("leader_staff_id"),
            },
        )
    )


def emit_staff(uow: UnitOfWork, staff_id: str, values: dict[str, Any], jurisdiction: str) -> None:
    uow.emit(
        contract.staff_updated(
            jurisdiction=jurisdiction,
            payload={
                "id": staff_id,
                "department_id": values["department_id"],
                "jurisdiction": jurisdiction,
                "name": values["name"],
                "title": values.get("title"),
            },
        )
    )


def _department_of(s: Any, dept_id: str) -> Any:
    return s.execute(select(departments).where(departments.c.id == dept_id)).first()


def put_staff(
    svc: Service, principal: Principal, staff_id: str, data: dict[str, Any]
) -> dict[str, Any]:
    with svc.uow() as uow:
        dept = _department_of(uow.session, data["department_id"])
        if dept is None:
            raise ApiError(
                422,
                "Unknown department.",
                fields={"json": {"department_id": ["unknown department"]}},
            )
        require_visible(principal, dept.jurisdiction)
        old = uow.session.execute(
            select(departments.c.jurisdiction)
            .join(staff, staff.c.department_id == departments.c.id)
            .where(staff.c.id == staff_id)
        ).first()
        if old is not None:
            require_visible(principal, old.jurisdiction)
        values = {
            "department_id": data["department_id"],
            "name": data["name"],
            "title": data.get("title"),
        }
        upsert(uow.session, staff, {"id": staff_id}, values)
        emit_staff(uow, staff_id, values, dept.jurisdiction)
        uow.commit()
    return {"id": staff_id, **values}


def list_staff(svc: Service, principal: Principal) -> list[dict[str, Any]]:
    q = (
        select(staff, departments.c.jurisdiction)
        .join(departments, departments.c.id == staff.c.department_id)
        .where(departments.c.jurisdiction.startswith(subtree_prefix(principal.jurisdiction)))
        .order_by(staff.c.id)
    )
    with svc.db.session() as s:
        return [dict(r) for r in s.execute(q).mappings()]


def name_owner(
    svc: Service, principal: Principal, credit_code: str, staff_id: str | None
) -> dict[str, Any]:
    """Name (or clear) the person who owns a key or flagged enterprise (专人包保)."""
    with svc.uow() as uow:
        s = uow.session
        ent = s.execute(select(enterprises).where(enterprises.c.credit_code == credit_code)).first()
        if ent is None:
            raise ApiError(
                404, f"No enterprise {credit_code} known to dispatch (registered in intake?)."
            )
        require_visible(principal, ent.jurisdiction)
        if staff_id is not None:
            person = s.execute(
                select(staff.c.id, departments.c.jurisdiction)
                .join(departments, departments.c.id == staff.c.department_id)
                .where(staff.c.id == staff_id)
            ).first()
            if person is None:
                raise ApiError(
                    422,
                    "Unknown staff member.",
                    fields={"json": {"staff_id": ["unknown staff id"]}},
                )
            require_visible(principal, person.jurisdiction)
        s.execute(
            update(enterprises)
            .where(enterprises.c.credit_code == credit_code)
            .values(named_staff_id=staff_id)
        )
        uow.commit()
    return get_enterprise(svc, principal, credit_code)


def get_enterprise(svc: Service, principal: Principal, credit_code: str) -> dict[str, Any]:
    with svc.db.session() as s:
        ent = (
            s.execute(select(enterprises).where(enterprises.c.credit_code == credit_code))
            .mappings()
            .first()
        )
        if ent is None or not principal.can_see(ent["jurisdiction"]):
            raise ApiError(404, f"No enterprise {credit_code} in your subtree.")
        listed = (
            s.execute(select(blacklist).where(blacklist.c.credit_code == credit_code))
            .mappings()
            .all()
        )
        return {**dict(ent), "blacklisted": [dict(r) for r in listed]}


def seed_responsibility(
    svc: Service,
    depts: list[tuple[str, str, str, tuple[str, ...], bool]],
    people: list[tuple[str, str, str, str]],
    agency_rows: list[tuple[str, str, str, int]],
    city: str,
    leaders: dict[str, str] | None = None,
    menu: Sequence[tuple[str, int, int | None, int | None]] = (),
) -> int:
    """Load departments, staff, agencies and menu prices not there yet (idempotent)."""
    added = 0
    now = datetime.now(UTC)
    with svc.uow() as uow:

        def add(table: Any, values: dict[str, Any]) -> bool:
            nonlocal added
            if uow.session.execute(select(table.c.id).where(table.c.id == values["id"])).first():
                return False
            uow.session.execute(insert(table).values(**values))
            added += 1
            return True

        where = {}
        for id_, jurisdiction, name, segments, is_default in depts:
            values = {
                "id": id_,
                "jurisdiction": jurisdiction,
                "name": name,
                "segments": ",".join(segments),
                "is_default": is_default,
                "leader_staff_id": (leaders or {}).get(id_),
            }
            where[id_] = jurisdiction
            if add(departments, values):
                emit_department(uow, id_, values)
        for id_, dept, name, title in people:
            values = {"id": id_, "department_id": dept, "name": name, "title": title}
            if add(staff, values):
                emit_staff(
                    uow,
                    id_,
                    values,
                    where.get(dept) or _department_of(uow.session, dept).jurisdiction,
                )
        for id_, name, category, rank in agency_rows:
            add(
                agencies,
                {
                    "id": id_,
                    "name": name,
                    "category": category,
                    "jurisdiction": city,
                    "rank_basis": rank,
                    "status": "active",
                    "engagements_two_years": max(rank // 4, 5),
                    "admitted_at": now,
                },
            )
        for item, price, coverage, months in menu:
            found = uow.session.execute(
                select(menu_items.c.price).where(
                    menu_items.c.city == city, menu_items.c.service_item == item
                )
            ).first()
            if found is None:
                uow.session.execute(
                    insert(menu_items).values(
                        city=city,
                        service_item=item,
                        price=price,
                        policy_coverage=coverage,
                        expected_settlement_months=months,
                        updated_by="demo",
                        updated_at=now,
                    )
                )
                added += 1
        uow.commit()
    return added


def report_progress(
    svc: Service,
    assignment_id: str,
    principal: Principal,
    stage: str,
    note: str,
    correlation_id: str,
) -> dict[str, Any]:
    """The assignee reports progress; the event moves the demand's loop in intake.

    An agency reports only on its own orders (which move to in_progress); an office
    key on the assignments of its subtree.
    """
    with svc.uow() as uow:
        row = (
            uow.session.execute(select(assignments).where(assignments.c.id == assignment_id))
            .mappings()
            .first()
        )
        if row is None or not (
            (principal.role == "agency" and row["assignee_type"] == "agency")
            or (principal.role != "agency" and principal.can_see(row["jurisdiction"]))
        ):
            raise ApiError(404, f"No assignment {assignment_id} of yours.")
        if principal.role == "agency" and row["assignee_id"] != principal.agency_id:
            raise ApiError(403, "This order is assigned to another agency.")
        if row["kind"] == "agency":
            step(
                uow,
                dict(row),
                "start" if stage == "started" else "feedback",
                note,
                principal.key_id,
                correlation_id,
            )
        elif row["status"] != "open":
            raise ApiError(409, f"The assignment is {row['status']}: its demand is closed.")
        now = datetime.now(UTC)
        uow.emit(
            contract.progress_reported(
                jurisdiction=row["jurisdiction"],
                correlation_id=correlation_id,
                payload={
                    "assignment_id": assignment_id,
                    "demand_code": row["demand_code"],
                    "stage": stage,
                    "note": note,
                    "reported_by": principal.key_id,
                    "assignee_type": row["assignee_type"],
                    "assignee_name": row["assignee_name"],
                    "at": now.isoformat(),
                },
            )
        )
        uow.commit()
    return {
        "assignment_id": assignment_id,
        "demand_code": row["demand_code"],
        "stage": stage,
        "note": note,
        "at": now,
    }
