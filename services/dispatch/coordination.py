"""Taking an order from one agency and giving it to the next: the coordination of a
refusal (CX 第七、二十二条) and the reassignment of a lagging order (调单, 第二十四条).
Both belong to the managers of the city's alliance, and may end the agency's membership.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import func, select

from services.dispatch.agency_orders import get_order, managed_order, next_status, step
from services.dispatch.alliance import EXIT_GROUNDS, Decision
from services.dispatch.city_alliance import current_rules
from services.dispatch.decisions import AgencyRequest, dispatch_to_agency
from services.dispatch.membership import set_agency_status
from services.dispatch.metrics import REASSIGNMENTS
from services.dispatch.models import assignments, complaints, decisions, enterprises
from services.dispatch.order_life import exits_after_reassignment, reassignment_problem
from shared.auth import Principal
from shared.db import UnitOfWork
from shared.timezone import CHINA, china_today
from shared.usecases import Conflict


def coordinate(
    uow: UnitOfWork,
    actor: Principal,
    assignment_id: str,
    data: dict[str, Any],
    *,
    correlation_id: str,
) -> dict[str, Any]:
    """After a refusal the platform coordinates (``data``: ``outcome``, ``note``): the
    agency complies, or the refusal is justified (re-dispatched), or it is not (exit,
    re-dispatched)."""
    outcome, note = data["outcome"], data["note"]
    with uow:
        order = managed_order(uow, assignment_id, actor)
        if outcome == "complied":
            step(uow, order, "comply", note, actor.key_id, correlation_id)
        else:
            step(uow, order, "release", note, actor.key_id, correlation_id)
            if outcome == "unjustified":
                set_agency_status(
                    uow,
                    order["assignee_id"],
                    "exited",
                    f"{EXIT_GROUNDS['refusal']}: {note}",
                    actor.key_id,
                    correlation_id,
                )
            redispatch(uow, order, correlation_id)
        uow.commit()
    return get_order(uow, actor, assignment_id)


def reassign(
    uow: UnitOfWork,
    actor: Principal,
    assignment_id: str,
    data: dict[str, Any],
    *,
    correlation_id: str,
) -> dict[str, Any]:
    """调单 (``data``: ``note``): an overdue order with a complaint goes to the next agency;
    the agency's second reassignment in one calendar year means exit."""
    with uow:
        s = uow.session
        order = managed_order(uow, assignment_id, actor)
        now = datetime.now(UTC)
        n_complaints = s.execute(
            select(func.count()).where(complaints.c.assignment_id == assignment_id)
        ).scalar_one()
        overdue = order["due_at"] is not None and order["due_at"] < now
        if order["kind"] != "agency":
            raise Conflict("Only agency orders are reassigned (调单).")
        next_status(order, "reassign")
        problem = reassignment_problem(overdue, n_complaints)
        if problem:
            raise Conflict(problem)
        step(uow, order, "reassign", data["note"], actor.key_id, correlation_id)
        REASSIGNMENTS.inc()
        year_start = datetime(china_today(now).year, 1, 1, tzinfo=CHINA)
        count = s.execute(
            select(func.count()).where(
                assignments.c.assignee_id == order["assignee_id"],
                assignments.c.status == "reassigned",
                assignments.c.closed_at >= year_start,
            )
        ).scalar_one()
        _, rules = current_rules(s, order["city"], china_today(now))
        if exits_after_reassignment(count, rules):
            set_agency_status(
                uow,
                order["assignee_id"],
                "exited",
                f"{EXIT_GROUNDS['reassignments']}: {count} this year",
                actor.key_id,
                correlation_id,
            )
        decision = redispatch(uow, order, correlation_id)
        uow.commit()
    out = get_order(uow, actor, assignment_id)
    out["reassigned_to"] = decision.agency_id
    return out


def redispatch(uow: UnitOfWork, order: dict[str, Any], correlation_id: str) -> Decision:
    """Give an order taken from one agency to the next in rotation (excluding every
    agency the demand had)."""
    s = uow.session
    previous = s.execute(
        select(assignments.c.assignee_id).where(
            assignments.c.demand_code == order["demand_code"], assignments.c.kind == "agency"
        )
    ).scalars()
    decision_row = s.execute(
        select(decisions.c.agency_category).where(decisions.c.id == order["decision_id"])
    ).first()
    name = s.execute(
        select(enterprises.c.name).where(
            enterprises.c.credit_code == order["enterprise_credit_code"]
        )
    ).scalar()
    request = AgencyRequest(
        demand_code=order["demand_code"],
        jurisdiction=order["jurisdiction"],
        enterprise={
            "credit_code": order["enterprise_credit_code"],
            "name": name or order["enterprise_credit_code"],
        },
        category=order["category"],
        service_item=order["service_item"],
        agency_category=decision_row.agency_category if decision_row else "",
        ordered=None,
        consent=order["consent_to_share"],
        brief=json.loads(order["brief"]) if order["brief"] else None,
        due_at=fresh_deadline(order["assigned_at"], order["due_at"], datetime.now(UTC)),
        correlation_id=correlation_id,
        exclude=tuple(sorted(set(previous))),
        replaces=order["id"],
    )
    return dispatch_to_agency(uow, request)


def fresh_deadline(
    assigned_at: datetime, due_at: datetime | None, now: datetime
) -> datetime | None:
    """A replacement order gets the same span of time the replaced one had, from now
    (at least a day): it does not start out overdue."""
    if due_at is None:
        return None
    return now + max(due_at - assigned_at, timedelta(days=1))
