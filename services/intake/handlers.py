"""Intake use cases: load through the unit of work, apply the rules, save, emit."""

from __future__ import annotations

import logging
from dataclasses import asdict
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import insert, select, update
from sqlalchemy.exc import IntegrityError

from services.intake.domain import Demand, demand_year, unified_code
from services.intake.models import demand_sequences, demands, enterprises
from shared.auth import Principal
from shared.contracts.intake import DEMAND_ACCEPTED
from shared.db import UnitOfWork, insert_or_ignore
from shared.errors import ApiError
from shared.events import Event, make_event, subtree_prefix
from shared.runtime import Service

log = logging.getLogger(__name__)


def _next_sequence(svc: Service, jurisdiction: str, year: int) -> int:
    """Take the next number of a jurisdiction's yearly sequence, in its own transaction.

    Like a database sequence it is committed at once, so the hot row is locked
    only for that instant and concurrent demands do not queue behind each
    other's whole transaction. A demand whose write then fails leaves a gap:
    codes are unique and never reused, not gap-free.
    """
    t = demand_sequences
    where = (t.c.jurisdiction == jurisdiction) & (t.c.year == year)
    bump = update(t).where(where).values(last_value=t.c.last_value + 1).returning(t.c.last_value)
    with svc.db.write_session() as s:
        value = s.execute(bump).scalar()
        if value is None:
            try:
                with s.begin_nested():
                    s.execute(insert(t).values(jurisdiction=jurisdiction, year=year, last_value=1))
                value = 1
            except IntegrityError:  # a concurrent first demand of the year created the row
                value = s.execute(bump).scalar_one()
        s.commit()
    return int(value)


def accept_demand(
    svc: Service, data: dict[str, Any], principal: Principal, correlation_id: str
) -> dict[str, Any]:
    jurisdiction = data.get("jurisdiction") or principal.jurisdiction
    if not principal.can_see(jurisdiction):
        raise ApiError(
            403,
            f"Your key is bound to {principal.jurisdiction}; "
            f"it cannot file demands in {jurisdiction}.",
            fields={"json": {"jurisdiction": ["outside your jurisdiction"]}},
        )
    if svc.directory.jurisdiction(jurisdiction) is None:
        raise ApiError(
            422,
            "Unknown jurisdiction.",
            fields={"json": {"jurisdiction": [f"{jurisdiction} is not a known division"]}},
        )
    now = datetime.now(UTC)
    ent = data["enterprise"]
    # Before the unit of work: on SQLite a second write transaction would wait for it.
    seq = _next_sequence(svc, jurisdiction, demand_year(now))
    with svc.uow() as uow:
        known = uow.session.execute(
            select(enterprises.c.name).where(enterprises.c.credit_code == ent["credit_code"])
        ).first()
        if known is None:
            # Two first demands of a new enterprise may race: the loser's row is ignored.
            uow.session.execute(
                insert_or_ignore(uow.db, enterprises).values(
                    credit_code=ent["credit_code"],
                    name=ent["name"],
                    jurisdiction=jurisdiction,
                    created_at=now,
                )
            )
        demand = Demand(
            code=unified_code(jurisdiction, demand_year(now), seq),
            jurisdiction=jurisdiction,
            enterprise_credit_code=ent["credit_code"],
            enterprise_name=known.name if known else ent["name"],
            category=data["category"],
            title=data["title"],
            description=data["description"],
            source=data["source"],
            consent_to_share=data["consent_to_share"],
            accepted_at=now,
            accepted_by=principal.key_id,
        )
        contact = data.get("contact") or {}
        uow.session.execute(
            insert(demands).values(
                code=demand.code,
                jurisdiction=jurisdiction,
                enterprise_credit_code=demand.enterprise_credit_code,
                category=demand.category,
                title=demand.title,
                description=demand.description,
                source=demand.source,
                contact_name=contact.get("name"),
                contact_phone=contact.get("phone"),
                consent_to_share=demand.consent_to_share,
                status=demand.status,
                correlation_id=correlation_id,
                accepted_by=demand.accepted_by,
                accepted_at=now,
            )
        )
        uow.emit(
            make_event(
                DEMAND_ACCEPTED,
                1,
                producer=svc.name,
                jurisdiction=jurisdiction,
                payload=demand.accepted_payload(),
                correlation_id=correlation_id,
            )
        )
        uow.commit()
    log.info("demand %s accepted in %s", demand.code, jurisdiction)
    return {
        **asdict(demand),
        "enterprise": {
            "credit_code": demand.enterprise_credit_code,
            "name": demand.enterprise_name,
        },
        "owner": None,
        "correlation_id": correlation_id,
    }


def _row_to_dict(row: Any, ent_name: str | None) -> dict[str, Any]:
    owner = None
    if row.owner_id:
        owner = {"type": row.owner_type, "id": row.owner_id, "name": row.owner_name}
    return {
        "code": row.code,
        "jurisdiction": row.jurisdiction,
        "enterprise": {"credit_code": row.enterprise_credit_code, "name": ent_name},
        "category": row.category,
        "title": row.title,
        "description": row.description,
        "source": row.source,
        "consent_to_share": row.consent_to_share,
        "status": row.status,
        "owner": owner,
        "accepted_at": row.accepted_at,
        "correlation_id": row.correlation_id,
    }


def _select() -> Any:
    return select(demands, enterprises.c.name.label("enterprise_name")).join(
        enterprises, enterprises.c.credit_code == demands.c.enterprise_credit_code
    )


def get_demand(svc: Service, code: str, principal: Principal) -> dict[str, Any]:
    with svc.db.session() as s:
        row = s.execute(_select().where(demands.c.code == code)).first()
    if row is None or not principal.can_see(row.jurisdiction):
        raise ApiError(404, f"No demand {code} in your jurisdiction.")
    return _row_to_dict(row, row.enterprise_name)


def list_demands(
    svc: Service, principal: Principal, status: str | None, limit: int
) -> list[dict[str, Any]]:
    q = _select().order_by(demands.c.accepted_at.desc())
    if status:
        q = q.where(demands.c.status == status)
    q = q.where(demands.c.jurisdiction.startswith(subtree_prefix(principal.jurisdiction)))
    with svc.db.session() as s:
        rows = s.execute(q.limit(limit)).all()
    return [_row_to_dict(r, r.enterprise_name) for r in rows]


def on_assignment_made(event: Event, uow: UnitOfWork) -> None:
    """Record the demand's responsible owner when dispatch assigns one."""
    p = event.payload
    if p["kind"] != "owner":
        return
    uow.session.execute(
        update(demands)
        .where(demands.c.code == p["demand_code"])
        .values(
            owner_type=p["assignee_type"], owner_id=p["assignee_id"], owner_name=p["assignee_name"]
        )
    )


def seed_enterprises(svc: Service, rows: list[tuple[str, str, str]]) -> int:
    """Register enterprises that are not yet known (idempotent); returns how many were new."""
    added = 0
    with svc.uow() as uow:
        for code, name, jurisdiction in rows:
            exists = uow.session.execute(
                select(enterprises.c.credit_code).where(enterprises.c.credit_code == code)
            ).first()
            if exists is None:
                uow.session.execute(
                    insert(enterprises).values(
                        credit_code=code,
                        name=name,
                        jurisdiction=jurisdiction,
                        created_at=datetime.now(UTC),
                    )
                )
                added += 1
        uow.commit()
    return added
