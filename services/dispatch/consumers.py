"""Dispatch's event consumers, ``(event, uow)`` each, applied once through the inbox:
a demand accepted gets its responsible owner and, for a market service, an agency; the
demand's later changes and the enterprises' profiles follow."""

from __future__ import annotations

import json
import logging
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import and_, bindparam, insert, or_, select, update
from sqlalchemy.orm import Session

from services.dispatch import cohandling, standing
from services.dispatch.agency_orders import step
from services.dispatch.decisions import AgencyRequest, dispatch_to_agency
from services.dispatch.domain import Department, OwnerDecision, Person, choose_owner
from services.dispatch.metrics import OWNERS
from services.dispatch.models import (
    assignments,
    departments,
    enterprises,
    staff,
    standing_links,
)
from services.dispatch.order_life import NO_LONGER_HANDLING, withdrawn_when
from services.dispatch.progress import owner_responded
from shared.contracts import dispatch as contract
from shared.contracts import intake as intake_contract
from shared.db import UnitOfWork, upsert, write_later
from shared.events import Event, jurisdiction_path

log = logging.getLogger(__name__)


# the owner decisions' reads, built once (values bound at execution)
READ_LINKS = select(standing_links).where(
    standing_links.c.credit_code.in_(bindparam("codes", expanding=True))
)
READ_ENTERPRISES = select(enterprises).where(
    enterprises.c.credit_code.in_(bindparam("codes", expanding=True))
)
READ_DEPARTMENTS = select(departments).where(
    or_(
        departments.c.jurisdiction.in_(bindparam("paths", expanding=True)),
        departments.c.id.in_(bindparam("ids", expanding=True)),
    )
)
READ_STAFF = select(staff.c.id, staff.c.name).where(
    staff.c.id.in_(bindparam("ids", expanding=True))
)
INSERT_ASSIGNMENT = insert(assignments)


@dataclass(frozen=True)
class OwnerReads:
    """What the owner decisions of a transaction's demands read: the enterprises'
    standing links and profiles, the departments on the demands' jurisdiction paths and
    the linked ones, the staff named — four statements for all the demands of a
    consumer's batch instead of four per demand (``prepare_owners``). The handlers of
    ``demand.accepted`` write none of these tables, so reading them first gives each
    demand what reading them at its turn would."""

    links: dict[str, Any]  # standing links by credit code
    enterprises: dict[str, Any]  # profiles by credit code
    departments: dict[str, Department]  # by id
    staff: dict[str, str]  # names by id

    @classmethod
    def load(cls, session: Session, events: Sequence[Event]) -> OwnerReads:
        codes = sorted({e.payload["enterprise"]["credit_code"] for e in events})
        paths = sorted({code for e in events for code in jurisdiction_path(e.jurisdiction)})
        links = {r.credit_code: r for r in session.execute(READ_LINKS, {"codes": codes})}
        ents = {r.credit_code: r for r in session.execute(READ_ENTERPRISES, {"codes": codes})}
        linked = sorted({r.department_id for r in links.values() if r.department_id})
        depts = {
            r.id: Department(
                id=r.id,
                jurisdiction=r.jurisdiction,
                name=r.name,
                segments=tuple(s for s in r.segments.split(",") if s),
                is_default=r.is_default,
            )
            for r in session.execute(READ_DEPARTMENTS, {"paths": paths, "ids": linked})
        }
        named = {r.staff_id for r in links.values() if r.staff_id}
        named |= {r.named_staff_id for r in ents.values() if r.named_staff_id}
        names = {r.id: r.name for r in session.execute(READ_STAFF, {"ids": sorted(named)})}
        return cls(links, ents, depts, names)

    def candidates(self, jurisdiction: str) -> list[Department]:
        """The departments of the jurisdiction and its ancestors."""
        path = set(jurisdiction_path(jurisdiction))
        return [d for d in self.departments.values() if d.jurisdiction in path]


def prepare_owners(uow: UnitOfWork, events: Sequence[Event]) -> None:
    """``demand.accepted``'s prepare: the owner decisions' reads for all the events."""
    uow.memo[OwnerReads] = OwnerReads.load(uow.session, events)


def owner_decision(reads: OwnerReads, event: Event) -> OwnerDecision | None:
    """The facts of the map and the enterprise's profile, and the pure rule on them."""
    p = event.payload
    code = p["enterprise"]["credit_code"]
    link = reads.links.get(code)
    linked = standing.demand_owner(
        link,
        reads.departments.get(link.department_id) if link is not None else None,
        reads.staff.get(link.staff_id) if link is not None else None,
    )
    if linked is not None:  # the standing 包保 link first
        return linked
    ent = reads.enterprises.get(code)
    person = None
    if ent is not None and ent.named_staff_id and ent.named_staff_id in reads.staff:
        person = Person(ent.named_staff_id, reads.staff[ent.named_staff_id])
    return choose_owner(
        event.jurisdiction,
        p["category"],
        reads.candidates(event.jurisdiction),
        growth_tier=ent.growth_tier if ent is not None else None,
        needs_person=bool(ent and (ent.is_key or ent.needs_named_person or ent.needs_one_plan)),
        person=person,
    )


def on_demand_accepted(event: Event, uow: UnitOfWork) -> None:
    """Give the demand its responsible owner (or raise an alert when none exists) and,
    when its service item needs a market service, dispatch it to a member agency."""
    p = event.payload
    due_at = datetime.fromisoformat(p["expected_at"]) if p.get("expected_at") else None
    cohandling.note_complexity(uow, p["demand_code"], p.get("complexity"))
    reads = uow.memo.get(OwnerReads) or OwnerReads.load(uow.session, [event])
    decision = owner_decision(reads, event)
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
        request = AgencyRequest(
            demand_code=p["demand_code"],
            jurisdiction=event.jurisdiction,
            enterprise=p["enterprise"],
            category=p["category"],
            service_item=p["service_item"],
            agency_category=p["agency_category"],
            ordered=p.get("ordered_agency"),
            consent=p["consent_to_share"],
            brief={
                "title": p["title"],
                "description": p["description"],
                "contact": p.get("contact"),
            },
            due_at=due_at,
            correlation_id=event.correlation_id,
        )
        dispatch_to_agency(uow, request)


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
        "respond_by": datetime.fromisoformat(p["respond_by"]) if p.get("respond_by") else None,
    }
    write_later(uow, INSERT_ASSIGNMENT, row)  # a batch's owners in one executemany
    log.info("demand %s owned by %s (%s)", p["demand_code"], assignee[1], decision.reason)
    kept = ("jurisdiction", "status", "due_at", "respond_by")
    payload = {k: v for k, v in row.items() if k not in kept}
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
        "technology_field": p.get("technology_field"),
    }
    upsert(uow.session, enterprises, {"credit_code": p["credit_code"]}, values)
    standing.relink(
        uow, codes=[p["credit_code"]], actor="dispatch", reason=f"{event.event_type}: the rules"
    )


def on_demand_screened(event: Event, uow: UnitOfWork) -> None:
    """Screening recomputed the deadline: the open assignments' time limit follows it;
    an owner's screening is its first response (not the calendar's recomputation)."""
    p = event.payload
    if p["actor"] != intake_contract.CALENDAR_ACTOR:
        owner_responded(uow, p["demand_code"], datetime.fromisoformat(p["at"]))
    uow.session.execute(
        update(assignments)
        .where(assignments.c.demand_code == p["demand_code"], assignments.c.closed_at.is_(None))
        .values(due_at=datetime.fromisoformat(p["expected_at"]))
    )
    cohandling.note_complexity(uow, p["demand_code"], p["complexity"])


def on_demand_status_changed(event: Event, uow: UnitOfWork) -> None:
    """A closed or rejected demand ends its owner assignment; a rejected one withdraws
    every open agency order, a closed one only those the agency has not taken up — an
    order acknowledged or in progress keeps its own life to completion and settlement
    (``order_life.withdrawn_when``). Any move is the owner's first response."""
    p = event.payload
    owner_responded(uow, p["demand_code"], datetime.fromisoformat(p["at"]))
    cohandling.end_with_demand(uow, event)  # open co-tasks end with their demand
    if p["to_status"] not in ("closed", "rejected"):
        if p["from_status"] == "closed":  # reopened by a poor revisit: the owner follows up
            uow.session.execute(
                update(assignments)
                .where(
                    assignments.c.demand_code == p["demand_code"],
                    assignments.c.kind == "owner",
                    assignments.c.status == "done",  # not one a transfer replaced
                )
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
                assignments.c.status.in_(withdrawn_when(p["to_status"])),
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


def on_demand_consent_changed(event: Event, uow: UnitOfWork) -> None:
    """The enterprise granted or withdrew consent. The agency handling the demand keeps its
    content either way (a grant brings the brief as it stands now); without consent, the
    orders of agencies that no longer handle it (reassigned, withdrawn) lose it."""
    p = event.payload
    consent = bool(p["consent_to_share"])
    values: dict[str, Any] = {"consent_to_share": consent}
    if consent and p.get("brief"):
        values["brief"] = json.dumps(p["brief"], ensure_ascii=False)
    orders = and_(assignments.c.demand_code == p["demand_code"], assignments.c.kind == "agency")
    uow.session.execute(update(assignments).where(orders).values(**values))
    if not consent:
        uow.session.execute(
            update(assignments)
            .where(orders, assignments.c.status.in_(NO_LONGER_HANDLING))
            .values(brief=None)
        )
