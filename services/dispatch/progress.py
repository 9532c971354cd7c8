"""Progress reports: the assignee (owner office or agency) says the work has started or
gives feedback; ``assignment.progress_reported`` moves the demand's loop in intake."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select

from services.dispatch.agency_orders import step, visible_to
from services.dispatch.models import assignments
from shared.auth import Principal
from shared.contracts import dispatch as contract
from shared.db import UnitOfWork
from shared.usecases import Conflict, Forbidden, NotFound


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
        row = (
            uow.session.execute(select(assignments).where(assignments.c.id == assignment_id))
            .mappings()
            .first()
        )
        if row is None or not visible_to(actor, row):
            raise NotFound(f"No assignment {assignment_id} of yours.")
        if actor.role == "agency" and row["assignee_id"] != actor.agency_id:
            raise Forbidden("This order is assigned to another agency.")
        if row["kind"] == "agency":
            action = "start" if stage == "started" else "feedback"
            step(uow, dict(row), action, note, actor.key_id, correlation_id)
        elif row["status"] != "open":
            raise Conflict(f"The assignment is {row['status']}: its demand is closed.")
        now = datetime.now(UTC)
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
