"""Accepting a demand (受理): filed over HTTP (with an optional Idempotency-Key) or
raised on a visit; numbered in its jurisdiction's yearly sequence, promised a
deadline, stored with its first update and announced as ``demand.accepted`` — all in
one short transaction."""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from datetime import UTC, date, datetime, time
from types import SimpleNamespace
from typing import Any

from sqlalchemy import bindparam, insert, select
from sqlalchemy.dialects import postgresql, sqlite

from services.intake import metrics
from services.intake.calendar import Deadline
from services.intake.domain import Demand, demand_year, unified_code
from services.intake.feed import record_update
from services.intake.idempotency import IdempotencyKey, Replayed, keep_response, stored_response
from services.intake.models import demand_sequences, demands, enterprises
from services.intake.reading import as_demand
from services.intake.registry import bare_registration
from services.intake.timelimits import rules_for_new_demand
from shared.auth import Principal
from shared.contracts import intake as contract
from shared.contracts.catalogue import BY_CODE
from shared.db import UnitOfWork, insert_or_ignore
from shared.directory import LocalDirectory
from shared.events import Event, in_subtree
from shared.scoping import filing_jurisdiction
from shared.timezone import CHINA
from shared.usecases import Forbidden, Invalid

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class AcceptDemand:
    """The command: ``DemandIn``'s loaded fields, and the key that makes retries safe."""

    fields: dict[str, Any]
    idempotency: IdempotencyKey | None = None


# -- the yearly sequence -----------------------------------------------------------
def _take_number_statement(dialect_insert: Any) -> Any:
    t = demand_sequences
    first = dialect_insert(t).values(
        jurisdiction=bindparam("jurisdiction"), year=bindparam("year"), last_value=1
    )
    return first.on_conflict_do_update(
        index_elements=[t.c.jurisdiction, t.c.year], set_={"last_value": t.c.last_value + 1}
    ).returning(t.c.last_value)


TAKE_NUMBER = {
    "postgresql": _take_number_statement(postgresql.insert),
    "sqlite": _take_number_statement(sqlite.insert),
}


def take_number(uow: UnitOfWork, jurisdiction: str, year: int) -> int:
    """Take the next number of a jurisdiction's yearly sequence: one ``INSERT … ON
    CONFLICT DO UPDATE … RETURNING`` (the first demand of the year creates the row,
    concurrent first demands included). Numbers are unique, never reused, and taken in
    order; a demand whose transaction rolls back leaves its number unused (DOMAIN: a
    unified code is "unique, never reused").

    On PostgreSQL the number is taken apart from the demand's transaction
    (``Database.apart``): the counter row is locked for that one statement, so the
    demands of a jurisdiction do not queue behind each other's commits. On SQLite, which
    has one writer at a time anyway, it is taken in the unit of work's transaction (and
    given back by a rollback).
    """
    params = {"jurisdiction": jurisdiction, "year": year}
    if uow.db.is_postgres:
        with uow.db.apart() as counter:
            return int(counter.execute(TAKE_NUMBER["postgresql"], params).scalar_one())
    return int(uow.session.execute(TAKE_NUMBER["sqlite"], params).scalar_one())


# -- where a demand is filed -------------------------------------------------------
def filing_of(
    directory: LocalDirectory, actor: Principal, fields: dict[str, Any], registered_in: str | None
) -> str:
    """The jurisdiction a demand is filed in, or the refusal: a demand is filed where
    its enterprise is registered (``registered_in``; None for a new one) or above it,
    by default there; a new enterprise needs its name to be registered."""
    credit_code = fields["enterprise"]["credit_code"]
    if actor.is_enterprise:
        return own_filing(actor, fields, registered_in)
    if registered_in is not None and not actor.can_see(registered_in):
        raise Forbidden(
            f"Enterprise {credit_code} is registered in {registered_in}, "
            "outside your jurisdiction.",
            fields={
                "json": {"enterprise": {"credit_code": ["registered outside your jurisdiction"]}}
            },
        )
    jurisdiction = filing_jurisdiction(
        directory, actor, fields.get("jurisdiction") or registered_in, "demands"
    )
    if registered_in is not None and not in_subtree(registered_in, jurisdiction):
        raise Invalid.field(
            "jurisdiction",
            f"the enterprise is registered in {registered_in}; file its demands "
            "there or in a jurisdiction above it",
        )
    if registered_in is None and not fields["enterprise"].get("name"):
        raise Invalid(
            "The request is invalid; see fields.",
            fields={
                "json": {
                    "enterprise": {"name": ["unknown enterprise: send its name to register it"]}
                }
            },
        )
    return jurisdiction


ONLINE = ("online", "order")  # how an enterprise files its own: online, or 企业点单


def own_filing(actor: Principal, fields: dict[str, Any], registered_in: str | None) -> str:
    """An enterprise user files for its own (registered) enterprises only, online or as an
    order (企业点单), where the enterprise is registered."""
    credit_code = fields["enterprise"]["credit_code"]
    if not actor.acts_for(credit_code):
        raise Forbidden(
            f"Your account does not act for enterprise {credit_code}.",
            fields={"json": {"enterprise": {"credit_code": ["not one of your enterprises"]}}},
        )
    if registered_in is None:
        raise Invalid.field("enterprise", "your enterprise is not registered yet; ask its office")
    if fields.get("jurisdiction") not in (None, registered_in):
        raise Invalid.field(
            "jurisdiction", f"your enterprise's demands are filed in {registered_in}"
        )
    if fields["source"] not in ONLINE:
        raise Invalid.field("source", f"an enterprise files {' or '.join(ONLINE)}")
    return registered_in


# Columns a demand has no value for when it is accepted.
UNSET_AT_ACCEPTANCE = {
    "owner_type": None,
    "owner_id": None,
    "owner_name": None,
    "urgency": None,
    "feasibility": None,
    "responded_at": None,
    "escalated_at": None,
    "escalated_to": None,
    "closed_at": None,
    "resolution": None,
    "satisfaction_rating": None,
    "satisfaction_comment": None,
}


# Where the enterprise is registered (statements built once: only their values change)
REGISTERED = select(enterprises.c.name, enterprises.c.jurisdiction).where(
    enterprises.c.credit_code == bindparam("credit_code")
)
INSERT_DEMAND = insert(demands)


def accept_demand(
    uow: UnitOfWork, actor: Principal, command: AcceptDemand, *, correlation_id: str
) -> dict[str, Any]:
    """Accept a demand: its unified code, its promised deadline, ``demand.accepted``,
    in one transaction. A repeated Idempotency-Key raises ``Replayed`` with the first
    answer (also when the demand would now be refused), or ``Conflict`` for another
    body: the key is looked up first, so a retry takes no number. The key is claimed
    with the answer, last, so a concurrent retry that meets it there rolls back
    everything it did (and leaves the number it took unused)."""
    now = datetime.now(UTC)
    data, idempotency = command.fields, command.idempotency
    with uow:
        if idempotency is not None:  # a retry of an accepted demand: its answer, no number
            stored = stored_response(uow.session, actor, idempotency)
            if stored is not None:
                raise Replayed(stored)
        credit_code = {"credit_code": data["enterprise"]["credit_code"]}
        known = uow.session.execute(REGISTERED, credit_code).first()
        jurisdiction = filing_of(uow.directory, actor, data, known.jurisdiction if known else None)
        values, demand = store_demand(
            uow,
            data,
            Filing(jurisdiction, known.name if known else None),
            actor.key_id,
            correlation_id,
            now,
        )
        result = as_demand(
            SimpleNamespace(**UNSET_AT_ACCEPTANCE, **values, enterprise_name=demand.enterprise_name)
        )
        if idempotency is not None:
            keep_response(uow, actor, idempotency, result, now)
        uow.commit()
    log.info("demand %s accepted in %s", demand.code, jurisdiction)
    metrics.counted("accepted", demand.category, jurisdiction)
    return result


# -- storing it ----------------------------------------------------------------------
@dataclass(frozen=True)
class Filing:
    """Where a demand is filed, and its enterprise's registered name (None when the
    demand registers the enterprise)."""

    jurisdiction: str
    registered_name: str | None


def demand_values(
    demand: Demand,
    data: dict[str, Any],
    deadline: Deadline,
    correlation_id: str,
    respond_by: datetime | None = None,
) -> dict[str, Any]:
    """The ``demands`` row of an accepted demand."""
    contact = data.get("contact") or {}
    location = data.get("location") or {}
    return {
        "code": demand.code,
        "jurisdiction": demand.jurisdiction,
        "enterprise_credit_code": demand.enterprise_credit_code,
        "category": demand.category,
        "service_item": data.get("service_item"),
        "title": demand.title,
        "description": demand.description,
        "source": demand.source,
        "contact_name": contact.get("name"),
        "contact_phone": contact.get("phone"),
        "contact_email": contact.get("email"),
        "address": location.get("address"),
        "address_id": location.get("address_id"),
        "lat": location.get("lat"),
        "long": location.get("long"),
        "media_url": data.get("media_url"),
        "attachments": json.dumps(data.get("attachments") or []),
        "ordered_agency": data.get("ordered_agency"),
        "consent_to_share": demand.consent_to_share,
        "status": demand.status,
        "correlation_id": correlation_id,
        "accepted_by": demand.accepted_by,
        "accepted_at": demand.accepted_at,
        "complexity": data["complexity"],
        "expected_at": deadline.due.astimezone(UTC),
        "deadline_provisional": deadline.provisional,
        "received_at": data.get("received_at"),
        "respond_by": respond_by,
    }


def accepted_payload(
    demand: Demand, data: dict[str, Any], deadline: Deadline, respond_by: datetime | None = None
) -> dict[str, Any]:
    """The ``demand.accepted`` payload: the demand, its promises (the closure deadline and
    the first response), and what the handling parties need (the service item's agency
    category, the contact, the visit)."""
    payload = demand.accepted_payload() | {
        "complexity": data["complexity"],
        "expected_at": deadline.due.isoformat(),
        "deadline_provisional": deadline.provisional,
    }
    if respond_by is not None:
        payload["respond_by"] = respond_by.isoformat()
    item = BY_CODE.get(data.get("service_item") or "")
    if item is not None:
        payload |= {"service_item": item.code, "agency_category": item.agency_category}
    if data.get("ordered_agency"):
        payload["ordered_agency"] = data["ordered_agency"]
    if data.get("contact"):  # for the handling parties; dispatch passes it on with consent
        payload["contact"] = data["contact"]
    if data.get("visit_id"):  # raised on a visit (服务进企): visits links it back
        payload["visit_id"] = data["visit_id"]
    if data.get("received_at"):  # collected offline, entered later
        payload["received_at"] = data["received_at"].isoformat()
    return payload


def _register_enterprise(
    uow: UnitOfWork, enterprise: dict[str, Any], jurisdiction: str, cid: str, now: datetime
) -> None:
    """Register a new enterprise by its name. Two first demands of a new enterprise may
    race: the loser's row is ignored."""
    code, name = enterprise["credit_code"], enterprise["name"]
    registered = uow.session.execute(
        insert_or_ignore(uow.db, enterprises)
        .values(credit_code=code, name=name, jurisdiction=jurisdiction, created_at=now)
        .returning(enterprises.c.credit_code)
    ).first()
    if registered is not None:
        uow.emit(
            contract.enterprise_registered(
                jurisdiction=jurisdiction,
                correlation_id=cid,
                payload=bare_registration(code, name, jurisdiction),
            )
        )


def store_demand(
    uow: UnitOfWork,
    data: dict[str, Any],
    filing: Filing,
    actor: str,
    correlation_id: str,
    now: datetime,
) -> tuple[dict[str, Any], Demand]:
    """Store an accepted demand with its number, its first update and its
    ``demand.accepted`` (shared by the HTTP intake and the demands raised on a visit):
    the deadline is worked out first, the number taken last (``take_number``), so that
    a demand refused on the way leaves no number unused."""
    ent, jurisdiction = data["enterprise"], filing.jurisdiction
    name = filing.registered_name
    if name is None:
        _register_enterprise(uow, ent, jurisdiction, correlation_id, now)
        name = ent["name"]
    _, limits, calendar = rules_for_new_demand(uow.session, uow.db, jurisdiction)
    received = min(data.get("received_at") or now, now)  # counted from receipt
    deadline = calendar.deadline(received, limits[data["complexity"]])
    respond_by = calendar.after_working_hours(received, limits["response_hours"]).due.astimezone(
        UTC
    )
    year = demand_year(now)
    demand = Demand(
        code=unified_code(jurisdiction, year, take_number(uow, jurisdiction, year)),
        jurisdiction=jurisdiction,
        enterprise_credit_code=ent["credit_code"],
        enterprise_name=name,
        category=data["category"],
        title=data["title"],
        description=data["description"],
        source=data["source"],
        consent_to_share=data["consent_to_share"],
        accepted_at=now,
        accepted_by=actor,
    )
    values = demand_values(demand, data, deadline, correlation_id, respond_by)
    uow.session.execute(INSERT_DEMAND, values)
    record_update(
        uow, demand.code, "transition", actor, now, to_status="accepted", note="受理 accepted"
    )
    uow.emit(
        contract.demand_accepted(
            jurisdiction=jurisdiction,
            payload=accepted_payload(demand, data, deadline, respond_by),
            correlation_id=correlation_id,
        )
    )
    return values, demand


# -- raised on a visit ---------------------------------------------------------------
def received_on_visit(visited_on: str | None, now: datetime) -> datetime | None:
    """A demand raised on a visit was received on the visit's day — from its start, China
    time (never later than now): its time limits count from then, however late the visit
    is logged."""
    if not visited_on:
        return None
    return min(datetime.combine(date.fromisoformat(visited_on), time(0), CHINA), now)


def raised_demand(
    raised: dict[str, Any],
    enterprise_name: str,
    visit_id: Any,
    received_at: datetime | None = None,
) -> dict[str, Any]:
    """A demand raised on a visit, as the fields of an accepted demand (received on the
    visit, ``received_at``, when known)."""
    return {
        "received_at": received_at,
        "enterprise": {"credit_code": raised["credit_code"], "name": enterprise_name},
        "category": raised["category"],
        "service_item": raised.get("service_item"),
        "title": raised["title"],
        "description": raised["description"],
        "source": "field_visit",
        "consent_to_share": raised.get("consent_to_share", False),
        "contact": raised.get("contact"),
        "complexity": raised.get("complexity") or "general",
        "visit_id": visit_id,
    }


def on_visit_logged(event: Event, uow: UnitOfWork) -> None:
    """Demands raised on a visit enter the closed loop without retyping (source
    ``field_visit``), filed where their enterprise is registered."""
    p = event.payload
    now = datetime.now(UTC)
    received = received_on_visit(p.get("visited_on"), now)
    for raised in p.get("demands_raised") or []:
        ent = uow.session.execute(
            select(enterprises.c.name, enterprises.c.jurisdiction).where(
                enterprises.c.credit_code == raised["credit_code"]
            )
        ).first()
        if ent is None:  # visits checks enterprises against intake's own announcements
            raise LookupError(f"visit {p['visit_id']}: unknown enterprise {raised['credit_code']}")
        data = raised_demand(raised, ent.name, p["visit_id"], received)
        filing = Filing(ent.jurisdiction, ent.name)
        _, demand = store_demand(uow, data, filing, p["logged_by"], event.correlation_id, now)
        log.info("demand %s raised on visit %s", demand.code, p["visit_id"])
        metrics.counted("accepted", demand.category, ent.jurisdiction)
