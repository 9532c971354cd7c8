"""Dispatch use cases."""

from __future__ import annotations

import logging
import uuid
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import insert, select

from services.dispatch.domain import Department, choose_owner
from services.dispatch.models import assignments, departments
from shared.auth import Principal
from shared.contracts.dispatch import ASSIGNMENT_FAILED, ASSIGNMENT_MADE, PROGRESS_REPORTED
from shared.db import UnitOfWork
from shared.errors import ApiError
from shared.events import Event, jurisdiction_path, make_event, subtree_prefix
from shared.runtime import Service

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


def on_demand_accepted(event: Event, uow: UnitOfWork) -> None:
    """Give the demand its responsible owner, or raise an alert when none exists."""
    p = event.payload
    decision = choose_owner(
        event.jurisdiction, p["category"], _departments(uow, event.jurisdiction)
    )
    if decision is None:
        log.warning("no responsible department for %s", p["demand_code"])
        uow.emit(
            make_event(
                ASSIGNMENT_FAILED,
                1,
                producer="dispatch",
                jurisdiction=event.jurisdiction,
                payload={
                    "demand_code": p["demand_code"],
                    "reason": "no responsible department on the jurisdiction path",
                },
                correlation_id=event.correlation_id,
            )
        )
        return
    now = datetime.now(UTC)
    dept = decision.department
    row = {
        "id": str(uuid.uuid4()),
        "demand_code": p["demand_code"],
        "jurisdiction": event.jurisdiction,
        "kind": "owner",
        "assignee_type": "department",
        "assignee_id": dept.id,
        "assignee_name": dept.name,
        "enterprise_credit_code": p["enterprise"]["credit_code"],
        "category": p["category"],
        "reason": decision.reason,
        "assigned_at": now,
    }
    uow.session.execute(insert(assignments).values(**row))
    log.info("demand %s owned by %s (%s)", p["demand_code"], dept.id, decision.reason)
    payload = {k: v for k, v in row.items() if k != "jurisdiction"}
    payload["assignment_id"] = payload.pop("id")
    payload["assigned_at"] = now.isoformat()
    uow.emit(
        make_event(
            ASSIGNMENT_MADE,
            1,
            producer="dispatch",
            jurisdiction=event.jurisdiction,
            payload=payload,
            correlation_id=event.correlation_id,
        )
    )


def list_assignments(
    svc: Service, principal: Principal, demand_code: str | None, limit: int
) -> list[dict[str, Any]]:
    q = select(assignments).where(
        assignments.c.jurisdiction.startswith(subtree_prefix(principal.jurisdiction))
    )
    if principal.role == "agency":  # an agency sees only its own assignments
        q = q.where(
            assignments.c.assignee_type == "agency",
            assignments.c.assignee_id == principal.agency_id,
        )
    if demand_code:
        q = q.where(assignments.c.demand_code == demand_code)
    with svc.db.session() as s:
        rows = s.execute(q.order_by(assignments.c.assigned_at.desc()).limit(limit)).mappings()
        return [dict(r) for r in rows]


def list_departments(svc: Service, principal: Principal) -> list[dict[str, Any]]:
    q = select(departments).where(
        departments.c.jurisdiction.startswith(subtree_prefix(principal.jurisdiction))
    )
    with svc.db.session() as s:
        return [
            {**dict(r), "segments": [x for x in r["segments"].split(",") if x]}
            for r in s.execute(q.order_by(departments.c.id)).mappings()
        ]


def seed_responsibility(
    svc: Service,
    depts: list[tuple[str, str, str, tuple[str, ...], bool]],
    people: list[tuple[str, str, str, str]],
    agency_rows: list[tuple[str, str, str, int]],
    city: str,
) -> int:
    """Load departments, staff and agencies that are not there yet (idempotent)."""
    from services.dispatch.models import agencies, staff

    added = 0
    with svc.uow() as uow:

        def add(table: Any, values: dict[str, Any]) -> None:
            nonlocal added
            if uow.session.execute(select(table.c.id).where(table.c.id == values["id"])).first():
                return
            uow.session.execute(insert(table).values(**values))
            added += 1

        for id_, jurisdiction, name, segments, is_default in depts:
            add(
                departments,
                {
                    "id": id_,
                    "jurisdiction": jurisdiction,
                    "name": name,
                    "segments": ",".join(segments),
                    "is_default": is_default,
                },
            )
        for id_, dept, name, title in people:
            add(staff, {"id": id_, "department_id": dept, "name": name, "title": title})
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
                },
            )
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

    An agency reports only on its own assignments; an office key on the owner
    assignments of its subtree.
    """
    with svc.uow() as uow:
        row = (
            uow.session.execute(select(assignments).where(assignments.c.id == assignment_id))
            .mappings()
            .first()
        )
        mine = row is not None and (
            (
                principal.role == "agency"
                and row["assignee_type"] == "agency"
                and row["assignee_id"] == principal.agency_id
            )
            or (principal.role != "agency" and principal.can_see(row["jurisdiction"]))
        )
        if row is None or not mine:
            raise ApiError(404, f"No assignment {assignment_id} of yours.")
        now = datetime.now(UTC)
        uow.emit(
            make_event(
                PROGRESS_REPORTED,
                1,
                producer="dispatch",
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
