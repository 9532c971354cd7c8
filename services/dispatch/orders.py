"""Agency orders: the dispatch decision and everything an order goes through.

Every decision of a city runs while holding that city's ``alliances`` row
(``SELECT … FOR UPDATE`` on PostgreSQL; SQLite writers are serialised by
``BEGIN IMMEDIATE``), so two workers deciding at once see each other's orders
and the caps hold.
"""

from __future__ import annotations

import json
import uuid
from datetime import UTC, date, datetime, timedelta
from typing import Any

from sqlalchemy import func, insert, select, update

from services.dispatch import alliance as rules_mod
from services.dispatch.alliance import Agency, AllianceRules, Decision, MonthTally
from services.dispatch.domain import COUNTED
from services.dispatch.metrics import DECISIONS, REASSIGNMENTS, SKIPS
from services.dispatch.models import (
    agencies,
    alliance_rules,
    alliances,
    assignments,
    blacklist,
    complaints,
    decisions,
    menu_items,
    order_events,
    rotation_pointers,
)
from shared.auth import Principal
from shared.contracts import dispatch as contract
from shared.db import UnitOfWork, insert_or_ignore, upsert
from shared.errors import ApiError
from shared.events import jurisdiction_path
from shared.runtime import Service
from shared.timezone import CHINA, china_today

# Orders that count in the month's caps: all but those taken back (reassigned, withdrawn).


def city_of(jurisdiction: str) -> str | None:
    """The city (prefecture) whose alliance serves a jurisdiction; None at province level."""
    path = jurisdiction_path(jurisdiction)
    return path[1] if len(path) > 1 else None


# --- reading the alliance's state -------------------------------------------------


def current_rules(session: Any, city: str, today: date) -> tuple[int, AllianceRules]:
    """The rule set in effect (version 0 = the seed's defaults when none is published)."""
    row = session.execute(
        select(alliance_rules)
        .where(alliance_rules.c.city == city, alliance_rules.c.effective_from <= today)
        .order_by(alliance_rules.c.effective_from.desc(), alliance_rules.c.version.desc())
        .limit(1)
    ).first()
    if row is None:
        return 0, AllianceRules()
    return row.version, AllianceRules(**json.loads(row.params))


def to_agency(r: Any) -> Agency:
    return Agency(
        id=r.id,
        name=r.name,
        category=r.category,
        rank_basis=r.rank_basis,
        status=r.status,
        paused_until=r.paused_until,
    )


def city_agencies(session: Any, city: str) -> list[Agency]:
    rows = session.execute(select(agencies).where(agencies.c.jurisdiction == city)).all()
    return [to_agency(r) for r in rows]


def month_tally(session: Any, city: str, month: str) -> MonthTally:
    a = assignments.c
    rows = session.execute(
        select(a.assignee_id, a.service_item, a.value).where(
            a.kind == "agency", a.city == city, a.month == month, a.status.in_(COUNTED)
        )
    ).all()
    return MonthTally.of((r.assignee_id, r.service_item, r.value or 0) for r in rows)


def lock_city(uow: UnitOfWork, city: str) -> None:
    """Take the city's decision lock (creating its row the first time)."""
    uow.session.execute(
        insert_or_ignore(uow.db, alliances).values(city=city, created_at=datetime.now(UTC))
    )
    uow.session.execute(select(alliances.c.city).where(alliances.c.city == city).with_for_update())


def menu_price(session: Any, city: str, item: str) -> tuple[int | None, int | None, int | None]:
    row = session.execute(
        select(menu_items).where(menu_items.c.city == city, menu_items.c.service_item == item)
    ).first()
    if row is None:
        return None, None, None
    return row.price, row.policy_coverage, row.expected_settlement_months


# --- the decision -------------------------------------------------------------------


def dispatch_to_agency(
    uow: UnitOfWork,
    *,
    demand_code: str,
    jurisdiction: str,
    enterprise: dict[str, str],
    category: str,
    service_item: str,
    agency_category: str,
    ordered: str | None,
    consent: bool,
    brief: dict[str, Any] | None,
    due_at: datetime | None,
    correlation_id: str,
    exclude: tuple[str, ...] = (),
    replaces: str | None = None,
) -> Decision:
    """Decide which member agency serves a demand, record why, and deliver the order."""
    now = datetime.now(UTC)
    today = china_today(now)
    month = rules_mod.month_of(today)
    city = city_of(jurisdiction)
    s = uow.session
    if city is None:
        decision = Decision(
            rules_mod.NO_AGENCY, None, "a province-level demand has no city alliance to serve it"
        )
        version, rules = 0, AllianceRules()
        price = coverage = months = None
    else:
        lock_city(uow, city)
        version, rules = current_rules(s, city, today)
        price, coverage, months = menu_price(s, city, service_item)
        blacklisted = (
            s.execute(
                select(blacklist.c.credit_code).where(
                    blacklist.c.city == city, blacklist.c.credit_code == enterprise["credit_code"]
                )
            ).first()
            is not None
        )
        pointer = s.execute(
            select(rotation_pointers.c.last_agency_id).where(
                rotation_pointers.c.city == city,
                rotation_pointers.c.agency_category == agency_category,
            )
        ).scalar()
        decision = rules_mod.select_agency(
            item=service_item,
            agency_category=agency_category,
            price=price or 0,
            agencies=city_agencies(s, city),
            tally=month_tally(s, city, month),
            last_rotated=pointer,
            today=today,
            rules=rules,
            ordered=ordered,
            blacklisted=blacklisted,
            exclude=exclude,
        )
    explanation = decision.explanation() | {"rules_version": version, "month": month}
    decision_id = s.execute(
        insert(decisions)
        .values(
            demand_code=demand_code,
            jurisdiction=jurisdiction,
            city=city or jurisdiction,
            month=month,
            service_item=service_item,
            agency_category=agency_category,
            outcome=decision.outcome,
            agency_id=decision.agency_id,
            explanation=json.dumps(explanation, ensure_ascii=False),
            decided_at=now,
        )
        .returning(decisions.c.id)
    ).scalar_one()
    DECISIONS.labels(decision.outcome).inc()
    for _, why in decision.skipped:
        SKIPS.labels(_skip_reason(why)).inc()
    if decision.agency_id is None:
        if decision.outcome == rules_mod.NO_AGENCY:
            uow.emit(
                contract.assignment_failed(
                    jurisdiction=jurisdiction,
                    payload={
                        "demand_code": demand_code,
                        "reason": decision.reason,
                        "kind": "agency",
                        "decision_id": decision_id,
                    },
                    correlation_id=correlation_id,
                )
            )
        return decision
    assert city is not None
    if decision.moves_rotation:
        _move_pointer(uow, city, agency_category, decision.agency_id)
    agency = s.execute(select(agencies).where(agencies.c.id == decision.agency_id)).one()
    terms = rules_mod.contract_terms(price or 0, coverage, months, rules)
    assignment_id = str(uuid.uuid4())
    row = {
        "id": assignment_id,
        "demand_code": demand_code,
        "jurisdiction": jurisdiction,
        "kind": "agency",
        "assignee_type": "agency",
        "assignee_id": agency.id,
        "assignee_name": agency.name,
        "enterprise_credit_code": enterprise["credit_code"],
        "category": category,
        "reason": decision.reason[:500],
        "assigned_at": now,
        "status": "dispatched",
        "due_at": due_at,
        "city": city,
        "month": month,
        "service_item": service_item,
        "value": price or 0,
        "decision_id": decision_id,
        "replaces": replaces,
        "consent_to_share": consent,
        "brief": json.dumps(brief, ensure_ascii=False) if consent and brief else None,
        "bond": terms.bond,
        "bond_reason": terms.bond_reason,
    }
    s.execute(insert(assignments).values(**row))
    made = {
        "assignment_id": assignment_id,
        "demand_code": demand_code,
        "kind": "agency",
        "assignee_type": "agency",
        "assignee_id": agency.id,
        "assignee_name": agency.name,
        "enterprise_credit_code": enterprise["credit_code"],
        "category": category,
        "reason": row["reason"],
        "assigned_at": now.isoformat(),
        "service_item": service_item,
        "value": price or 0,
        "decision_id": decision_id,
        "decision_outcome": decision.outcome,
        "due_at": due_at.isoformat() if due_at else None,
    }
    if replaces:
        made["replaces"] = replaces
    uow.emit(
        contract.assignment_made(
            jurisdiction=jurisdiction,
            payload=made,
            correlation_id=correlation_id,
        )
    )
    uow.emit(
        contract.order_dispatched(
            jurisdiction=jurisdiction,
            audience=agency.id,
            correlation_id=correlation_id,
            payload={
                "assignment_id": assignment_id,
                "demand_code": demand_code,
                "agency_id": agency.id,
                "service_item": service_item,
                "agency_category": agency_category,
                "enterprise": {
                    "credit_code": enterprise["credit_code"],
                    "name": enterprise["name"],
                },
                "consent_to_share": consent,
                "details": brief if consent and brief else None,
                "terms": {
                    "price": price,
                    "bond": terms.bond,
                    "bond_reason": terms.bond_reason,
                    "settlement": (
                        f"no prepayment; paid within {rules.settlement_days} days after the "
                        "enterprise receives the policy funds (第十九条)"
                    ),
                },
                "due_at": due_at.isoformat() if due_at else None,
                "decision": {"outcome": decision.outcome, "reason": decision.reason},
                "dispatched_at": now.isoformat(),
            },
        )
    )
    return decision


def _skip_reason(why: str) -> str:
    for key in ("paused", "exited", "cap", "would hold", "taken off", "ordered"):
        if key in why:
            return "cap" if key == "would hold" else key
    return "other"


def _move_pointer(uow: UnitOfWork, city: str, category: str, agency_id: str) -> None:
    key = {"city": city, "agency_category": category}
    upsert(uow.session, rotation_pointers, key, {"last_agency_id": agency_id})


# --- an order's life ----------------------------------------------------------------


def _load_order(uow: UnitOfWork, assignment_id: str, principal: Principal) -> dict[str, Any]:
    row = (
        uow.session.execute(
            select(assignments).where(assignments.c.id == assignment_id).with_for_update()
        )
        .mappings()
        .first()
    )
    if row is None or not (
        (principal.role == "agency" and row["assignee_type"] == "agency")
        or (principal.role != "agency" and principal.can_see(row["jurisdiction"]))
    ):
        raise ApiError(404, f"No assignment {assignment_id}.")
    if principal.role == "agency" and row["assignee_id"] != principal.agency_id:
        raise ApiError(403, "This order is assigned to another agency.")
    return dict(row)


def _managed_order(uow: UnitOfWork, assignment_id: str, principal: Principal) -> dict[str, Any]:
    """An agency order for a decision that can move it on or expel its agency: only the
    managers of the city's alliance (admin or district keys over the city) take it. The
    city's lock is taken first, in the same order as every dispatch decision and the
    month close (city, then order, then agency), so concurrent ones serialise."""
    peek = uow.session.execute(
        select(assignments.c.city, assignments.c.jurisdiction, assignments.c.kind).where(
            assignments.c.id == assignment_id
        )
    ).first()
    if peek is None or not principal.can_see(peek.jurisdiction):
        raise ApiError(404, f"No assignment {assignment_id}.")
    if peek.kind != "agency" or peek.city is None:
        raise ApiError(409, "Only agency orders are coordinated or reassigned (调单).")
    if not principal.can_see(peek.city):
        raise ApiError(
            403, f"Coordination and reassignment belong to the managers of {peek.city}'s alliance."
        )
    lock_city(uow, peek.city)
    return _load_order(uow, assignment_id, principal)


def step(
    uow: UnitOfWork,
    order: dict[str, Any],
    action: str,
    note: str,
    actor: str,
    correlation_id: str,
    **extra: Any,
) -> str:
    """Move an agency order by ``action`` (409 when illegal), record and announce it."""
    if order["kind"] != "agency":
        raise ApiError(409, "Owner assignments are moved through the demand's loop, not here.")
    try:
        to = rules_mod.order_step(action, order["status"])
    except rules_mod.IllegalAction as exc:
        raise ApiError(409, str(exc)) from exc
    now = datetime.now(UTC)
    values: dict[str, Any] = {"status": to, **extra}
    if to in ("completed", "reassigned", "withdrawn"):
        values["closed_at"] = now
    uow.session.execute(update(assignments).where(assignments.c.id == order["id"]).values(**values))
    uow.session.execute(
        insert(order_events).values(
            assignment_id=order["id"],
            action=action,
            from_status=order["status"],
            to_status=to,
            note=note[:2000],
            actor=actor,
            at=now,
        )
    )
    payload: dict[str, Any] = {
        "assignment_id": order["id"],
        "demand_code": order["demand_code"],
        "assignee_type": order["assignee_type"],
        "assignee_id": order["assignee_id"],
        "action": action,
        "from_status": order["status"],
        "to_status": to,
        "note": note,
        "actor": actor,
        "at": now.isoformat(),
    }
    for k in ("goal_reached", "funds_received_on", "settlement_due"):
        if k in extra:
            v = extra[k]
            payload[k] = v.isoformat() if isinstance(v, date) else v
    uow.emit(
        contract.assignment_status_changed(
            jurisdiction=order["jurisdiction"],
            payload=payload,
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


def redispatch(uow: UnitOfWork, order: dict[str, Any], correlation_id: str) -> Decision:
    """Give an order taken from one agency to the next in rotation (excluding it)."""
    previous = uow.session.execute(
        select(assignments.c.assignee_id).where(
            assignments.c.demand_code == order["demand_code"], assignments.c.kind == "agency"
        )
    ).scalars()
    decision_row = uow.session.execute(
        select(decisions.c.agency_category).where(decisions.c.id == order["decision_id"])
    ).first()
    agency_category = decision_row.agency_category if decision_row else ""
    brief = json.loads(order["brief"]) if order["brief"] else None
    return dispatch_to_agency(
        uow,
        demand_code=order["demand_code"],
        jurisdiction=order["jurisdiction"],
        enterprise={
            "credit_code": order["enterprise_credit_code"],
            "name": _enterprise_name(uow, order),
        },
        category=order["category"],
        service_item=order["service_item"],
        agency_category=agency_category,
        ordered=None,
        consent=order["consent_to_share"],
        brief=brief,
        due_at=_fresh_deadline(order),
        correlation_id=correlation_id,
        exclude=tuple(sorted(set(previous))),
        replaces=order["id"],
    )


def _fresh_deadline(order: dict[str, Any]) -> datetime | None:
    """A replacement order gets the same span of time the replaced one had, from now
    (at least a day): it does not start out overdue."""
    if order["due_at"] is None:
        return None
    span = max(order["due_at"] - order["assigned_at"], timedelta(days=1))
    return datetime.now(UTC) + span


def _enterprise_name(uow: UnitOfWork, order: dict[str, Any]) -> str:
    from services.dispatch.models import enterprises

    name = uow.session.execute(
        select(enterprises.c.name).where(
            enterprises.c.credit_code == order["enterprise_credit_code"]
        )
    ).scalar()
    return name or order["enterprise_credit_code"]


def set_agency_status(
    uow: UnitOfWork,
    agency_id: str,
    to_status: str,
    reason: str,
    actor: str,
    correlation_id: str,
    until: date | None = None,
) -> dict[str, Any]:
    row = (
        uow.session.execute(select(agencies).where(agencies.c.id == agency_id).with_for_update())
        .mappings()
        .first()
    )
    if row is None:
        raise ApiError(404, f"No agency {agency_id}.")
    if row["status"] == "exited":
        if to_status == "exited":  # exiting twice (e.g. two grounds at once) changes nothing
            return dict(row)
        raise ApiError(409, f"Agency {agency_id} has exited the alliance; its status is final.")
    uow.session.execute(
        update(agencies)
        .where(agencies.c.id == agency_id)
        .values(status=to_status, paused_until=until, status_reason=reason[:500])
    )
    now = datetime.now(UTC)
    uow.emit(
        contract.agency_status_changed(
            jurisdiction=row["jurisdiction"],
            correlation_id=correlation_id,
            payload={
                "agency_id": agency_id,
                "name": row["name"],
                "category": row["category"],
                "from_status": row["status"],
                "to_status": to_status,
                "paused_until": until.isoformat() if until else None,
                "reason": reason,
                "actor": actor,
                "at": now.isoformat(),
            },
        )
    )
    return {**dict(row), "status": to_status, "paused_until": until, "status_reason": reason}


# --- use cases over HTTP ------------------------------------------------------------


def act(
    svc: Service,
    assignment_id: str,
    principal: Principal,
    action: str,
    note: str,
    correlation_id: str,
    **extra: Any,
) -> dict[str, Any]:
    """An agency acknowledges, starts, completes or refuses its own order."""
    with svc.uow() as uow:
        order = _load_order(uow, assignment_id, principal)
        if principal.role != "agency" and action in ("acknowledge", "complete", "refuse"):
            raise ApiError(403, f"Only the agency itself can {action} its order.")
        if order["kind"] != "agency":
            raise ApiError(409, "Owner assignments are moved through the demand's loop, not here.")
        if action == "complete":
            funds = extra.get("funds_received_on")
            _, rules = current_rules(uow.session, order["city"], china_today())
            extra["settlement_due"] = rules_mod.settlement_due(funds, rules) if funds else None
        step(uow, order, action, note, principal.key_id, correlation_id, **extra)
        uow.commit()
    return get_order(svc, assignment_id, principal)


def coordinate(
    svc: Service,
    assignment_id: str,
    principal: Principal,
    outcome: str,
    note: str,
    correlation_id: str,
) -> dict[str, Any]:
    """After a refusal the platform coordinates (CX 第七、二十二条): the agency complies,
    or the refusal is justified (re-dispatched), or it is not (exit, re-dispatched)."""
    with svc.uow() as uow:
        order = _managed_order(uow, assignment_id, principal)
        if outcome == "complied":
            step(uow, order, "comply", note, principal.key_id, correlation_id)
        else:
            step(uow, order, "release", note, principal.key_id, correlation_id)
            if outcome == "unjustified":
                set_agency_status(
                    uow,
                    order["assignee_id"],
                    "exited",
                    f"{rules_mod.EXIT_GROUNDS['refusal']}: {note}",
                    principal.key_id,
                    correlation_id,
                )
            redispatch(uow, order, correlation_id)
        uow.commit()
    return get_order(svc, assignment_id, principal)


def complain(
    svc: Service,
    assignment_id: str,
    principal: Principal,
    source: str,
    text: str,
    correlation_id: str,
) -> dict[str, Any]:
    with svc.uow() as uow:
        order = _load_order(uow, assignment_id, principal)
        if order["kind"] != "agency":
            raise ApiError(409, "Complaints are about agency orders.")
        now = datetime.now(UTC)
        cid = uow.session.execute(
            insert(complaints)
            .values(
                assignment_id=assignment_id,
                source=source,
                text=text,
                actor=principal.key_id,
                at=now,
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
                    "actor": principal.key_id,
                    "at": now.isoformat(),
                },
            )
        )
        uow.commit()
    return {"id": cid, "assignment_id": assignment_id, "source": source, "text": text, "at": now}


def reassign(
    svc: Service, assignment_id: str, principal: Principal, note: str, correlation_id: str
) -> dict[str, Any]:
    """调单 (CX 第二十四条): an overdue order with a complaint goes to the next agency; the
    agency's second reassignment in one calendar year means exit."""
    with svc.uow() as uow:
        order = _managed_order(uow, assignment_id, principal)
        now = datetime.now(UTC)
        n_complaints = uow.session.execute(
            select(func.count()).where(complaints.c.assignment_id == assignment_id)
        ).scalar_one()
        overdue = order["due_at"] is not None and order["due_at"] < now
        if order["kind"] != "agency":
            raise ApiError(409, "Only agency orders are reassigned (调单).")
        try:
            rules_mod.order_step("reassign", order["status"])
        except rules_mod.IllegalAction as exc:
            raise ApiError(409, str(exc)) from exc
        problem = rules_mod.reassignment_problem(overdue, n_complaints)
        if problem:
            raise ApiError(409, problem)
        step(uow, order, "reassign", note, principal.key_id, correlation_id)
        REASSIGNMENTS.inc()
        year_start = datetime(china_today(now).year, 1, 1, tzinfo=CHINA)
        count = uow.session.execute(
            select(func.count()).where(
                assignments.c.assignee_id == order["assignee_id"],
                assignments.c.status == "reassigned",
                assignments.c.closed_at >= year_start,
            )
        ).scalar_one()
        _, rules = current_rules(uow.session, order["city"], china_today(now))
        if rules_mod.exits_after_reassignment(count, rules):
            set_agency_status(
                uow,
                order["assignee_id"],
                "exited",
                f"{rules_mod.EXIT_GROUNDS['reassignments']}: {count} this year",
                principal.key_id,
                correlation_id,
            )
        decision = redispatch(uow, order, correlation_id)
        uow.commit()
    out = get_order(svc, assignment_id, principal)
    out["reassigned_to"] = decision.agency_id
    return out


def get_order(svc: Service, assignment_id: str, principal: Principal) -> dict[str, Any]:
    """One assignment with its decision, history and complaints (an agency: its own only)."""
    with svc.db.session() as s:
        row = (
            s.execute(select(assignments).where(assignments.c.id == assignment_id))
            .mappings()
            .first()
        )
        visible = row is not None and (
            (
                principal.role == "agency"
                and row["assignee_type"] == "agency"
                and row["assignee_id"] == principal.agency_id
            )
            or (principal.role != "agency" and principal.can_see(row["jurisdiction"]))
        )
        if row is None or not visible:
            raise ApiError(404, f"No assignment {assignment_id} of yours.")
        out = dict(row)
        out["details"] = json.loads(out.pop("brief")) if out.get("brief") else None
        out["decision"] = None
        if row["decision_id"] is not None:
            d = s.execute(select(decisions).where(decisions.c.id == row["decision_id"])).first()
            if d is not None:
                out["decision"] = {"id": d.id, **json.loads(d.explanation)}
                if principal.role == "agency":  # other agencies' reasons are not theirs to read
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
            if principal.role == "agency"
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
