"""Intake use cases of the closed loop: the owner dispatch assigns, status changes
(by a handling party or reported progress), screening, the satisfaction revisit, and
the provisional deadlines recomputed."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import bindparam, func, select, update

from services.intake import metrics, subscribing
from services.intake.calendar import Deadline
from services.intake.feed import record_update
from services.intake.lifecycle import FINAL, LifecycleError, Transition, revisit, transition
from services.intake.models import demand_updates, demands
from services.intake.reading import demand_rows, get_demand, load_demand
from services.intake.timelimits import time_rules
from shared.auth import Principal
from shared.contracts import intake as contract
from shared.db import UnitOfWork, write_later
from shared.events import Event
from shared.usecases import Conflict


def _responded(uow: UnitOfWork, code: str, at: datetime) -> None:
    """The owner's first screening, move or progress report is the first response
    (首次响应); later ones leave it as it was."""
    uow.session.execute(
        update(demands)
        .where(demands.c.code == code, demands.c.responded_at.is_(None))
        .values(responded_at=at)
    )


def _conflict(exc: LifecycleError) -> Conflict:
    return Conflict(
        str(exc),
        code="illegal_transition",
        fields={"json": {"to": [f"allowed: {', '.join(exc.allowed) or 'none'}"]}},
    )


def _emit_status(
    uow: UnitOfWork, row: Any, t: Transition, actor: str, at: datetime, on_time: bool | None
) -> None:
    event = contract.demand_status_changed(
        jurisdiction=row.jurisdiction,
        correlation_id=row.correlation_id,
        payload={
            "demand_code": row.code,
            "from_status": t.from_status,
            "to_status": t.to_status,
            "note": t.note,
            "resolution": t.resolution,
            "actor": actor,
            "at": at.isoformat(),
            "category": row.category,
            "on_time": on_time,
        },
    )
    uow.emit(event)
    subscribing.enqueue(uow, row.accepted_by, row.code, event)  # the filer's callback


def step_values(
    t: Transition, expected_at: datetime | None, now: datetime
) -> tuple[dict[str, Any], bool | None]:
    """What one checked step changes on the demand, and whether a closing is on time
    (None unless it closes). Closing records the resolution; reopening a closed demand
    clears it."""
    values: dict[str, Any] = {"status": t.to_status}
    on_time = None
    if t.to_status == "closed":
        on_time = expected_at is None or now <= expected_at
        values |= {"closed_at": now, "resolution": t.resolution}
    elif t.from_status == "closed":  # reopened: no longer closed
        values |= {"closed_at": None, "resolution": None}
    return values, on_time


def _apply(uow: UnitOfWork, row: Any, t: Transition, actor: str, now: datetime) -> None:
    """Write one checked step: the demand, the updates feed, the event."""
    values, on_time = step_values(t, row.expected_at, now)
    uow.session.execute(update(demands).where(demands.c.code == row.code).values(**values))
    record_update(
        uow,
        row.code,
        "transition",
        actor,
        now,
        from_status=t.from_status,
        to_status=t.to_status,
        note=t.note,
        details={"resolution": t.resolution, "on_time": on_time},
    )
    _emit_status(uow, row, t, actor, now, on_time)


def change_status(
    uow: UnitOfWork, actor: Principal, code: str, command: dict[str, Any]
) -> dict[str, Any]:
    """One step of the loop (``TransitionIn``: to, note, resolution): checked, recorded
    in the updates feed, emitted."""
    now = datetime.now(UTC)
    with uow:
        row = load_demand(uow.session, code, actor, lock=uow.db.is_postgres)
        try:
            t = transition(row.status, command["to"], command["note"], command.get("resolution"))
        except LifecycleError as exc:
            raise _conflict(exc) from None
        _apply(uow, row, t, actor.key_id, now)
        _responded(uow, code, now)
        uow.commit()
    if t.to_status in FINAL:
        metrics.counted(t.to_status, row.category, row.jurisdiction)
    return get_demand(uow, actor, code)


# every owner assignment's write, built once (values bound at execution)
SET_OWNER = update(demands).where(demands.c.code == bindparam("k_code"))


def on_assignment_made(event: Event, uow: UnitOfWork) -> None:
    """Record the demand's responsible owner when dispatch assigns one."""
    p = event.payload
    if p["kind"] != "owner":
        return
    write_later(  # a batch's owners in one executemany
        uow,
        SET_OWNER,
        {
            "k_code": p["demand_code"],
            "owner_type": p["assignee_type"],
            "owner_id": p["assignee_id"],
            "owner_name": p["assignee_name"],
        },
    )


def on_deadline(event: Event, uow: UnitOfWork) -> None:
    """An overdue or unanswered breach of one of the demand's assignments was escalated
    to the responsible leader (督办): the demand shows it from the first escalation on, and
    the updates feed keeps each (warnings are not escalations)."""
    p = event.payload
    if p["level"] == "warning":
        return
    leader = p.get("escalate_to") or {}
    to = leader.get("name")
    at = datetime.fromisoformat(p["at"])
    uow.session.execute(
        update(demands)
        .where(demands.c.code == p["demand_code"], demands.c.escalated_at.is_(None))
        .values(escalated_at=at, escalated_to=to)
    )
    note = {"overdue": "超期督办 overdue", "unanswered": "未及时响应督办 unanswered"}[p["level"]]
    if p["kind"] == "cohandler":
        note = "协办超期督办 co-task overdue"
    record_update(
        uow,
        p["demand_code"],
        "escalation",
        "dispatch",
        at,
        note=f"{note} → {to}" if to else note,
        details={"level": p["level"], "kind": p["kind"], "due_at": p["due_at"]},
    )


STAGE_TARGETS = {"started": "in_progress", "feedback": "feedback"}


def on_progress_reported(event: Event, uow: UnitOfWork) -> None:
    """Progress reported by the owner or the agency moves the loop when the step is
    legal; otherwise the report is still kept in the updates feed, as a note."""
    p = event.payload
    q = demand_rows().where(demands.c.code == p["demand_code"])
    if uow.db.is_postgres:
        q = q.with_for_update(of=demands)
    row = uow.session.execute(q).first()
    if row is None:
        raise LookupError(f"progress reported on unknown demand {p['demand_code']}")
    actor = f"{p['assignee_type']}:{p['assignee_name']}"
    now = datetime.fromisoformat(p["at"])
    note = p["note"] or f"{p['assignee_name']} reported {p['stage']}"
    if p["assignee_type"] != "agency":  # the owner's report is its response
        _responded(uow, row.code, now)
    try:
        t = transition(row.status, STAGE_TARGETS[p["stage"]], note)
    except LifecycleError as exc:
        record_update(
            uow,
            row.code,
            "progress",
            actor,
            now,
            note=note,
            details={"stage": p["stage"], "no_change": str(exc)},
        )
        return
    _apply(uow, row, t, actor, now)


def deadline_moved(deadline: Deadline, expected_at: datetime | None, provisional: bool) -> bool:
    """Whether a recomputed deadline differs from the stored one (or its provisional flag)."""
    return (deadline.due.astimezone(UTC), deadline.provisional) != (expected_at, provisional)


def _rescreen(
    uow: UnitOfWork,
    row: Any,
    actor: str,
    now: datetime,
    note: str,
    *,
    complexity: str,
    urgency: str | None,
    feasibility: str | None,
    only_if_moved: bool = False,
) -> bool:
    """Set the screening values and recompute the deadline: the demand, the updates
    feed and ``demand.screened``. With ``only_if_moved`` nothing happens unless the
    deadline or its provisional flag changes; returns whether anything was written."""
    _, limits, calendar = time_rules(uow.session, row.jurisdiction)
    deadline = calendar.deadline(row.received_at or row.accepted_at, limits[complexity])
    if only_if_moved and not deadline_moved(
        deadline, row.expected_at, bool(row.deadline_provisional)
    ):
        return False
    due = deadline.due.astimezone(UTC)
    values = {
        "complexity": complexity,
        "urgency": urgency,
        "feasibility": feasibility,
        "expected_at": due,
        "deadline_provisional": deadline.provisional,
    }
    uow.session.execute(update(demands).where(demands.c.code == row.code).values(**values))
    record_update(uow, row.code, "screening", actor, now, note=note, details=values)
    uow.emit(
        contract.demand_screened(
            jurisdiction=row.jurisdiction,
            correlation_id=row.correlation_id,
            payload={
                "demand_code": row.code,
                **values,
                "expected_at": due.isoformat(),
                "actor": actor,
                "at": now.isoformat(),
            },
        )
    )
    return True


def screen(uow: UnitOfWork, actor: Principal, code: str, command: dict[str, Any]) -> dict[str, Any]:
    """Set complexity, urgency, feasibility (``ScreeningIn``); the promised deadline
    follows the complexity."""
    now = datetime.now(UTC)
    with uow:
        row = load_demand(uow.session, code, actor, lock=uow.db.is_postgres)
        if row.status in FINAL:
            raise Conflict(
                f"A {row.status} demand is not screened any more.", code="illegal_transition"
            )
        _rescreen(
            uow,
            row,
            actor.key_id,
            now,
            command.get("note", ""),
            complexity=command.get("complexity", row.complexity),
            urgency=command.get("urgency", row.urgency),
            feasibility=command.get("feasibility", row.feasibility),
        )
        _responded(uow, code, now)
        uow.commit()
    return get_demand(uow, actor, code)


def revisit_values(rating: int, comment: str, reopen: Transition | None) -> dict[str, Any]:
    """What a revisit changes on the demand: the rating, and a reopening's status."""
    values: dict[str, Any] = {"satisfaction_rating": rating, "satisfaction_comment": comment}
    if reopen is not None:
        values |= {"status": reopen.to_status, "closed_at": None, "resolution": None}
    return values


def revisited_since_closed(session: Any, code: str) -> bool:
    """Whether the demand's current closure has had its revisit: a revisit in the updates
    feed after its last close (a demand reopened and closed again is revisited again)."""
    u = demand_updates.c
    last_close = (
        select(func.max(u.id))
        .where(u.demand_code == code, u.kind == "transition", u.to_status == "closed")
        .scalar_subquery()
    )
    revisit_after = select(u.id).where(
        u.demand_code == code, u.kind == "revisit", u.id > last_close
    )
    return session.execute(revisit_after.limit(1)).first() is not None


def rate(uow: UnitOfWork, actor: Principal, code: str, command: dict[str, Any]) -> dict[str, Any]:
    """The satisfaction revisit (``RevisitIn``: rating, comment): once per closure; a
    rating of 1–2 reopens follow-up, and the next closure is revisited in turn."""
    rating, comment = command["rating"], command["comment"]
    now = datetime.now(UTC)
    with uow:
        row = load_demand(uow.session, code, actor, lock=uow.db.is_postgres)
        try:
            rated = row.status == "closed" and revisited_since_closed(uow.session, code)
            reopen = revisit(row.status, rated, rating)
        except LifecycleError as exc:
            raise Conflict(str(exc), code="revisit_refused") from None
        values = revisit_values(rating, comment, reopen)
        uow.session.execute(update(demands).where(demands.c.code == code).values(**values))
        record_update(
            uow, code, "revisit", actor.key_id, now, note=comment, details={"rating": rating}
        )
        uow.emit(
            contract.demand_revisited(
                jurisdiction=row.jurisdiction,
                correlation_id=row.correlation_id,
                payload={
                    "demand_code": code,
                    "rating": rating,
                    "comment": comment,
                    "reopened": reopen is not None,
                    "actor": actor.key_id,
                    "at": now.isoformat(),
                },
            )
        )
        if reopen is not None:
            record_update(
                uow,
                code,
                "transition",
                actor.key_id,
                now,
                from_status=reopen.from_status,
                to_status=reopen.to_status,
                note=reopen.note,
            )
            _emit_status(uow, row, reopen, actor.key_id, now, None)
        uow.commit()
    return get_demand(uow, actor, code)


def recompute_provisional(uow: UnitOfWork) -> int:
    """Recompute the deadlines that were provisional (computed past the published
    holiday calendar) now that more of the calendar may be known; returns how many
    moved. Runs when the intake worker starts — after a deploy that brings a newer
    ``chinese-calendar`` — and is idempotent."""
    now = datetime.now(UTC)
    moved = 0
    with uow:
        rows = uow.session.execute(
            select(demands).where(
                demands.c.deadline_provisional.is_(True), demands.c.status.notin_(FINAL)
            )
        ).all()
        for row in rows:
            moved += _rescreen(
                uow,
                row,
                contract.CALENDAR_ACTOR,
                now,
                "deadline recomputed on the published holiday calendar",
                complexity=row.complexity,
                urgency=row.urgency,
                feasibility=row.feasibility,
                only_if_moved=True,
            )
        uow.commit()
    return moved
