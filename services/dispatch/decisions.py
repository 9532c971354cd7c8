"""The dispatch decision: which member agency serves a demand, why, and the order it gets.

Queries gather the city's facts under its lock (``city_alliance``), the pure rules of
``alliance`` decide, and the decision is recorded with its explanation before the order
is stored and delivered (``assignment.made``, and ``agency.order_dispatched`` to the
agency's own queue) in the same transaction.
"""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any

from sqlalchemy import insert, select
from sqlalchemy.orm import Session

from services.dispatch.alliance import (
    NO_AGENCY,
    Agency,
    AllianceRules,
    Decision,
    MonthTally,
    select_agency,
)
from services.dispatch.city_alliance import (
    alliance_of,
    city_agencies,
    current_rules,
    lock_city,
    menu_price,
    month_tally,
)
from services.dispatch.metrics import DECISIONS, SKIPS
from services.dispatch.models import assignments, blacklist, decisions, rotation_pointers
from services.dispatch.month_close import month_of
from services.dispatch.terms import Terms, contract_terms
from shared.auth import Principal
from shared.contracts import dispatch as contract
from shared.db import UnitOfWork, upsert
from shared.events import subtree_prefix
from shared.timezone import china_today


@dataclass(frozen=True)
class AgencyRequest:
    """A demand that needs a member agency: what the decision and the order are made of."""

    demand_code: str
    jurisdiction: str
    enterprise: dict[str, str]  # credit_code, name
    category: str
    service_item: str
    agency_category: str
    ordered: str | None
    consent: bool
    brief: dict[str, Any] | None
    due_at: datetime | None
    correlation_id: str
    exclude: tuple[str, ...] = ()  # agencies taken off this demand (调单)
    replaces: str | None = None  # the order this one replaces


@dataclass(frozen=True)
class CityFacts:
    """What a city's decision is made from, read under the city's lock."""

    version: int
    rules: AllianceRules
    price: int | None
    coverage: int | None
    settlement_months: int | None
    blacklisted: bool
    last_rotated: str | None
    agencies: list[Agency]
    tally: MonthTally


def city_facts(
    session: Session, city: str, request: AgencyRequest, today: date, month: str
) -> CityFacts:
    version, rules = current_rules(session, city, today)
    price, coverage, months = menu_price(session, city, request.service_item)
    listed = session.execute(
        select(blacklist.c.credit_code).where(
            blacklist.c.city == city,
            blacklist.c.credit_code == request.enterprise["credit_code"],
        )
    ).first()
    pointer = session.execute(
        select(rotation_pointers.c.last_agency_id).where(
            rotation_pointers.c.city == city,
            rotation_pointers.c.agency_category == request.agency_category,
        )
    ).scalar()
    return CityFacts(
        version=version,
        rules=rules,
        price=price,
        coverage=coverage,
        settlement_months=months,
        blacklisted=listed is not None,
        last_rotated=pointer,
        agencies=city_agencies(session, city),
        tally=month_tally(session, city, month),
    )


def decide(facts: CityFacts, request: AgencyRequest, today: date) -> Decision:
    """The pure core: the city's facts and the request in, the decision out."""
    return select_agency(
        item=request.service_item,
        agency_category=request.agency_category,
        price=facts.price or 0,
        agencies=facts.agencies,
        tally=facts.tally,
        last_rotated=facts.last_rotated,
        today=today,
        rules=facts.rules,
        ordered=request.ordered,
        blacklisted=facts.blacklisted,
        exclude=request.exclude,
    )


def dispatch_to_agency(uow: UnitOfWork, request: AgencyRequest) -> Decision:
    """Decide which member agency serves a demand, record why, and deliver the order."""
    now = datetime.now(UTC)
    today = china_today(now)
    month = month_of(today)
    city = alliance_of(uow.session, request.jurisdiction)
    facts: CityFacts | None = None
    if city is None:
        decision = Decision(NO_AGENCY, None, "no alliance serves a province-level demand here")
    else:
        lock_city(uow, city)
        facts = city_facts(uow.session, city, request, today, month)
        decision = decide(facts, request, today)
    explanation = decision.explanation() | {
        "rules_version": facts.version if facts else 0,
        "month": month,
    }
    decision_id = uow.session.execute(
        insert(decisions)
        .values(
            demand_code=request.demand_code,
            jurisdiction=request.jurisdiction,
            city=city or request.jurisdiction,
            month=month,
            service_item=request.service_item,
            agency_category=request.agency_category,
            outcome=decision.outcome,
            agency_id=decision.agency_id,
            explanation=json.dumps(explanation, ensure_ascii=False),
            decided_at=now,
        )
        .returning(decisions.c.id)
    ).scalar_one()
    DECISIONS.labels(decision.outcome).inc()
    for _, why in decision.skipped:
        SKIPS.labels(skip_reason(why)).inc()
    if decision.agency_id is None:
        if decision.outcome == NO_AGENCY:
            uow.emit(
                contract.assignment_failed(
                    jurisdiction=request.jurisdiction,
                    payload={
                        "demand_code": request.demand_code,
                        "reason": decision.reason,
                        "kind": "agency",
                        "decision_id": decision_id,
                    },
                    correlation_id=request.correlation_id,
                )
            )
        return decision
    assert city is not None and facts is not None
    if decision.moves_rotation:
        key = {"city": city, "agency_category": request.agency_category}
        upsert(uow.session, rotation_pointers, key, {"last_agency_id": decision.agency_id})
    _deliver(uow, request, decision, decision_id, facts, city, now)
    return decision


def skip_reason(why: str) -> str:
    """The metric label of why rotation passed an agency over."""
    for key in ("paused", "exited", "cap", "would hold", "taken off", "ordered"):
        if key in why:
            return "cap" if key == "would hold" else key
    return "other"


def _deliver(
    uow: UnitOfWork,
    request: AgencyRequest,
    decision: Decision,
    decision_id: int,
    facts: CityFacts,
    city: str,
    now: datetime,
) -> None:
    """Store the chosen agency's order and announce it (to all, and to the agency)."""
    agency = next(a for a in facts.agencies if a.id == decision.agency_id)
    terms = contract_terms(facts.price or 0, facts.coverage, facts.settlement_months, facts.rules)
    row = order_row(request, decision, decision_id, agency, terms, city, now)
    uow.session.execute(insert(assignments).values(**row))
    uow.emit(
        contract.assignment_made(
            jurisdiction=request.jurisdiction,
            payload=made_payload(row, decision),
            correlation_id=request.correlation_id,
        )
    )
    uow.emit(
        contract.order_dispatched(
            jurisdiction=request.jurisdiction,
            audience=agency.id,
            correlation_id=request.correlation_id,
            payload=dispatched_payload(request, row, decision, facts, terms),
        )
    )


def order_row(
    request: AgencyRequest,
    decision: Decision,
    decision_id: int,
    agency: Agency,
    terms: Terms,
    city: str,
    now: datetime,
) -> dict[str, Any]:
    """The ``assignments`` row of an agency order, with the demand's brief: the assigned
    agency is a handling party and reads the content and contact whatever the consent
    (which governs everyone else: other agencies, other jurisdictions, public reads)."""
    return {
        "id": str(uuid.uuid4()),
        "demand_code": request.demand_code,
        "jurisdiction": request.jurisdiction,
        "kind": "agency",
        "assignee_type": "agency",
        "assignee_id": agency.id,
        "assignee_name": agency.name,
        "enterprise_credit_code": request.enterprise["credit_code"],
        "category": request.category,
        "reason": decision.reason[:500],
        "assigned_at": now,
        "status": "dispatched",
        "due_at": request.due_at,
        "city": city,
        "month": month_of(china_today(now)),
        "service_item": request.service_item,
        "value": terms.price,
        "decision_id": decision_id,
        "replaces": request.replaces,
        "consent_to_share": request.consent,
        "brief": json.dumps(request.brief, ensure_ascii=False) if request.brief else None,
        "bond": terms.bond,
        "bond_reason": terms.bond_reason,
    }


def made_payload(row: dict[str, Any], decision: Decision) -> dict[str, Any]:
    """``assignment.made`` of an agency order."""
    made = {
        "assignment_id": row["id"],
        "demand_code": row["demand_code"],
        "kind": "agency",
        "assignee_type": "agency",
        "assignee_id": row["assignee_id"],
        "assignee_name": row["assignee_name"],
        "enterprise_credit_code": row["enterprise_credit_code"],
        "category": row["category"],
        "reason": row["reason"],
        "assigned_at": row["assigned_at"].isoformat(),
        "service_item": row["service_item"],
        "value": row["value"],
        "decision_id": row["decision_id"],
        "decision_outcome": decision.outcome,
        "due_at": row["due_at"].isoformat() if row["due_at"] else None,
    }
    if row["replaces"]:
        made["replaces"] = row["replaces"]
    return made


def dispatched_payload(
    request: AgencyRequest,
    row: dict[str, Any],
    decision: Decision,
    facts: CityFacts,
    terms: Terms,
) -> dict[str, Any]:
    """``agency.order_dispatched``: what the assigned agency reads in its own queue — the
    demand's content and contact (it handles the demand), and whether the enterprise
    consented to share them beyond the parties handling it."""
    return {
        "assignment_id": row["id"],
        "demand_code": request.demand_code,
        "agency_id": row["assignee_id"],
        "service_item": request.service_item,
        "agency_category": request.agency_category,
        "enterprise": {
            "credit_code": request.enterprise["credit_code"],
            "name": request.enterprise["name"],
        },
        "consent_to_share": request.consent,
        "details": request.brief,
        "terms": {
            "price": facts.price,
            "bond": terms.bond,
            "bond_reason": terms.bond_reason,
            "settlement": (
                f"no prepayment; paid within {facts.rules.settlement_days} days after the "
                "enterprise receives the policy funds (第十九条)"
            ),
        },
        "due_at": request.due_at.isoformat() if request.due_at else None,
        "decision": {"outcome": decision.outcome, "reason": decision.reason},
        "dispatched_at": row["assigned_at"].isoformat(),
    }


def list_decisions(
    uow: UnitOfWork, actor: Principal, query: dict[str, Any]
) -> list[dict[str, Any]]:
    """Dispatch decisions with their explanations, in the actor's subtree (``query``:
    ``demand_code`` optional, ``limit``)."""
    d = decisions.c
    q = select(decisions).where(d.jurisdiction.startswith(subtree_prefix(actor.jurisdiction)))
    if query.get("demand_code"):
        q = q.where(d.demand_code == query["demand_code"])
    with uow.read() as s:
        rows = s.execute(q.order_by(d.id.desc()).limit(query["limit"])).mappings().all()
        return [{**dict(r), "explanation": json.loads(r["explanation"])} for r in rows]
