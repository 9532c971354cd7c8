"""Manual records: entered with their evidence, listed, retracted — an audit trail, never
edited. The units they are entered for are the departments and staff dispatch announces."""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Row, select, update
from sqlalchemy.orm import Session

from services.scoring.domain.facts import period_arg
from services.scoring.domain.records import record_problem
from services.scoring.models import manual_records, units
from services.scoring.spans import selects
from shared.auth import Principal
from shared.contracts import scoring as contract
from shared.db import UnitOfWork
from shared.timezone import china_today
from shared.usecases import Conflict, Invalid, NotFound


def find_unit(s: Session, actor: Principal, unit_id: str) -> Row[Any]:
    """A department or staff member in the actor's subtree (``NotFound`` otherwise)."""
    u = s.execute(select(units).where(units.c.id == unit_id)).first()
    if u is None or not actor.can_see(u.jurisdiction):
        raise NotFound(f"No staff member or department {unit_id} in your subtree.")
    return u


def enter_record(
    uow: UnitOfWork, actor: Principal, command: Mapping[str, Any], *, correlation_id: str
) -> dict[str, Any]:
    """A record no event carries, with its evidence; an audit trail, never edited."""
    kind, value, month = command["kind"], command["value"], command["period"]
    problem = record_problem(kind, value, month, china_today().strftime("%Y-%m"))
    if problem:
        raise Invalid.field(*problem)
    now = datetime.now(UTC)
    with uow:
        u = find_unit(uow.session, actor, command["unit_id"])
        row = {
            "id": str(uuid.uuid4()),
            "unit_type": u.type,
            "unit_id": u.id,
            "jurisdiction": u.jurisdiction,
            "period": month,
            "kind": kind,
            "value": float(value),
            "evidence": command["evidence"],
            "note": command.get("note") or "",
            "actor": actor.key_id,
            "at": now,
        }
        uow.session.execute(manual_records.insert().values(**row))
        uow.emit(
            contract.record_entered(
                jurisdiction=u.jurisdiction,
                correlation_id=correlation_id,
                payload={**row, "at": now.isoformat()},
            )
        )
        uow.commit()
    return {**row, "retracted_at": None, "retracted_by": None, "retract_reason": None}


def retract_record(
    uow: UnitOfWork,
    actor: Principal,
    record_id: str,
    command: Mapping[str, Any],
    *,
    correlation_id: str,
) -> dict[str, Any]:
    """Retract a record (``command``: its ``reason``); it stays, marked, in the trail."""
    reason = command["reason"]
    now = datetime.now(UTC)
    with uow:
        row = (
            uow.session.execute(
                select(manual_records).where(manual_records.c.id == record_id).with_for_update()
            )
            .mappings()
            .first()
        )
        if row is None or not actor.can_see(row["jurisdiction"]):
            raise NotFound(f"No record {record_id}.")
        if row["retracted_at"] is not None:
            raise Conflict("The record is already retracted.")
        uow.session.execute(
            update(manual_records)
            .where(manual_records.c.id == record_id)
            .values(retracted_at=now, retracted_by=actor.key_id, retract_reason=reason)
        )
        uow.emit(
            contract.record_retracted(
                jurisdiction=row["jurisdiction"],
                correlation_id=correlation_id,
                payload={
                    "id": record_id,
                    "reason": reason,
                    "actor": actor.key_id,
                    "at": now.isoformat(),
                },
            )
        )
        uow.commit()
    return {
        **dict(row),
        "retracted_at": now,
        "retracted_by": actor.key_id,
        "retract_reason": reason,
    }


def list_records(
    uow: UnitOfWork, actor: Principal, query: Mapping[str, Any]
) -> list[dict[str, Any]]:
    """A unit's records in a period (``query``: ``unit``, ``period``), retracted ones too:
    those entered for its months — for a day or a week, those entered in it (a record is
    entered for a month, and counts in no day or week)."""
    period = period_arg(query["period"])
    m = manual_records.c
    with uow.read() as s:
        find_unit(s, actor, query["unit"])
        rows = s.execute(
            select(manual_records)
            .where(m.unit_id == query["unit"], selects(period, m.period, at=m.at))
            .order_by(manual_records.c.at)
        ).mappings()
        return [dict(x) for x in rows]
