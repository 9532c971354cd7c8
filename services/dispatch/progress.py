"""Progress reports: the assignee (owner office or agency) says the work has started or
gives feedback; ``assignment.progress_reported`` moves the demand's loop in intake."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import update

from services.dispatch.agency_orders import OF_YOURS, load_order, step
from services.dispatch.models import assignments
from shared.auth import Principal
from shared.contracts import dispatch as contract
from shared.db import UnitOfWork
from shared.usecases import Conflict


def owner_responded(uow: UnitOfWork, demand_code: str, at: datetime) -> None:
    """The owner's first screening, move or progress report answers the first-response
    limit (the sweep then never announces it as ``unanswered``)."""
    uow.session.execute(
        update(assignments)
        .where(
            assignments.c.demand_code == demand_code,
            assignments.c.kind == "owner",
            assignments.c.responded_at.is_(None),
        )
        .values(responded_at=at)
    )


def report_progress(
    uow: UnitOfWork,
    actor: Principal,
    assignment_id: str,
    data: dict[str, Any],
    *,
    correlation_id: str,
) -> dict[str, Any]:
    """The assignee reports progress (``data``: ``stage`` started or feedback, ``note``).

    An agency reports only on its own orders (which move to in_progress); an office
    key on the assignments of its subtree.
    """
    stage, note = data["stage"], data["note"]
    with uow:
        row = load_order(uow, assignment_id, actor, lock=False, missing=OF_YOURS)
        if row["kind"] == "agency":
            action = "start" if stage == "started" else "feedback"
            step(uow, row, action, note, actor.key_id, correlation_id)
        elif row["status"] != "open":
            raise Conflict(f"The assignment is {row['status']}: its demand is closed.")
        now = datetime.now(UTC)
        if row["kind"] == "owner":
            owner_responded(uow, row["demand_code"], now)
        uow.emit(
            contract.progress_reported(
                jurisdiction=row["jurisdiction"],
                correlation_id=correlation_id,
                payload={
                    "assignment_id": assignment_id,
                    "demand_code": row["demand_code"],
                    "stage": stage,
                    "note": note,
                    "reported_by": actor.key_id,
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
