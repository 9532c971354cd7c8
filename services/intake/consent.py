"""Consent to share (XN 保密): the enterprise — or the office on its word — grants or
withdraws it at any time. The demand keeps the answer, its feed the step, and
``demand.consent_changed`` tells dispatch, whose agency order shows or hides the content."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import update

from services.intake.feed import record_update
from services.intake.models import demands
from services.intake.reading import as_demand, load_demand
from shared.auth import Principal
from shared.contracts import intake as contract
from shared.db import UnitOfWork
from shared.usecases import Conflict


def brief_of(row: Any) -> dict[str, Any]:
    """What a handling party may read with consent: title, description and contact."""
    shown = as_demand(row)
    return {k: shown.get(k) for k in ("title", "description", "contact")}


def set_consent(
    uow: UnitOfWork, actor: Principal, code: str, command: dict[str, Any]
) -> dict[str, Any]:
    """Grant (``consent_to_share`` true) or withdraw it; the same answer again is a 409."""
    consent = command["consent_to_share"]
    now = datetime.now(UTC)
    with uow:
        row = load_demand(uow.session, code, actor, lock=uow.db.is_postgres)
        if row.consent_to_share == consent:
            raise Conflict(f"Consent is already {'given' if consent else 'withheld'}.")
        uow.session.execute(
            update(demands).where(demands.c.code == code).values(consent_to_share=consent)
        )
        note = "consent to share given" if consent else "consent to share withdrawn"
        record_update(uow, code, "consent", actor.key_id, now, note=note)
        uow.emit(
            contract.demand_consent_changed(
                jurisdiction=row.jurisdiction,
                correlation_id=row.correlation_id,
                payload={
                    "demand_code": code,
                    "consent_to_share": consent,
                    "brief": brief_of(row) if consent else None,
                    "actor": actor.key_id,
                    "at": now.isoformat(),
                },
            )
        )
        uow.commit()
    with uow.read() as s:
        return as_demand(load_demand(s, code, actor))
