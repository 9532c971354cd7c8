"""The enterprise blacklist (企业黑名单, CX 第二十一条): an enterprise that abandoned a
service mid-way, or refused to pay after the goal was reached, gets no agency from its
city's alliance any more."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import insert, select

from services.dispatch.city_alliance import city_scope
from services.dispatch.models import assignments, blacklist
from shared.auth import Principal
from shared.contracts import dispatch as contract
from shared.db import UnitOfWork
from shared.usecases import Conflict, Invalid


def blacklist_enterprise(
    uow: UnitOfWork,
    actor: Principal,
    credit_code: str,
    data: dict[str, Any],
    *,
    correlation_id: str,
) -> dict[str, Any]:
    """Put an enterprise on a city's blacklist (``data``: ``city``, ``reason``, ``note``,
    optionally the ``assignment_id`` of the order concerned)."""
    city = city_scope(actor, data["city"], "json")
    now = datetime.now(UTC)
    with uow:
        s = uow.session
        if data.get("assignment_id"):
            order = s.execute(
                select(assignments).where(assignments.c.id == data["assignment_id"])
            ).first()
            if order is None or order.enterprise_credit_code != credit_code or order.city != city:
                raise Invalid(
                    "The assignment is not an order of this enterprise in this city.",
                    fields={"json": {"assignment_id": ["no such order of this enterprise"]}},
                )
        if s.execute(
            select(blacklist.c.credit_code).where(
                blacklist.c.city == city, blacklist.c.credit_code == credit_code
            )
        ).first():
            raise Conflict(f"{credit_code} is already on {city}'s blacklist.")
        row = {
            "city": city,
            "credit_code": credit_code,
            "reason": data["reason"],
            "assignment_id": data.get("assignment_id"),
            "note": data["note"],
            "actor": actor.key_id,
            "at": now,
        }
        s.execute(insert(blacklist).values(**row))
        uow.emit(
            contract.enterprise_blacklisted(
                jurisdiction=city,
                correlation_id=correlation_id,
                payload={**row, "at": now.isoformat()},
            )
        )
        uow.commit()
    return row
