"""Intake use cases of the closed loop: screening, status changes, revisit, updates,
and the per-jurisdiction time-limit rules."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime
from typing import Any

from sqlalchemy import select, update

from services.intake import metrics
from services.intake.handlers import _select as handlers_select
from services.intake.handlers import get_demand, load_demand, record_update, time_rules
from services.intake.lifecycle import LifecycleError, Transition, revisit, transition
from services.intake.models import demand_updates, demands, time_limit_rules
from shared.auth import Principal
from shared.contracts import intake as contract
from shared.db import UnitOfWork, insert_or_ignore
from shared.errors import ApiError
from shared.events import Event
from shared.runtime import Service

FINAL = ("closed", "rejected")


def _conflict(exc: LifecycleError) -> ApiError:
    return ApiError(
        409,
        str(exc),
        code="illegal_transition",
        fields={"json": {"to": [f"allowed: {', '.join(exc.allowed) or 'none'}"]}},
    )


def _emit_status(
    uow: UnitOfWork, row: Any, t: Any, actor: str, at: datetime, on_time: bool | None
) -> None:
    uow.emit(
        contract.demand_status_changed(
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
    )


def _apply(uow: UnitOfWork, row: Any, t: Transition, actor: str, now: datetime) -> None:
    """Write one checked step: the demand, the updates feed, the event."""
    values: dict[str, Any] = {"status": t.to_status}
    on_time = None
    if t.to_status == "closed":
        on_time = row.expected_at is None or now <= row.expected_at
        values |= {"closed_at": now, "resolution": t.resolution}
    elif row.status == "closed":  # reopened: no longer closed
        values |= {"closed_at": None, "resolution": None}
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
    svc: Service,
    code: str,
    principal: Principal,
    target: str,
    note: str,
    resolution: str | None,
) -> dict[str, Any]:
    """One step of the loop: checked, recorded in the updates feed, emitted."""
    now = datetime.now(UTC)
    with svc.uow() as uow:
        row = load_demand(uow.session, code, principal, lock=uow.db.is_postgres)
        try:
            t = transition(row.status, target, note, resolution)
        except LifecycleError as exc:
            raise _conflict(exc) from None
        _apply(uow, row, t, principal.key_id, now)
        uow.commit()
    if t.to_status in ("closed", "rejected"):
        metrics.counted(t.to_status, row.category, row.jurisdiction)
    return get_demand(svc, code, principal)


STAGE_TARGETS = {"started": "in_progress", "feedback": "feedback"}


def on_progress_reported(event: Event, uow: UnitOfWork) -> None:
    """Progress reported by the owner or the agency moves the loop when the step is
    legal; otherwise the report is still kept in the updates feed, as a note."""
    p = event.payload
    q = handlers_select().where(demands.c.code == p["demand_code"])
    if uow.db.is_postgres:
        q = q.with_for_update(of=demands)
    row = uow.session.execute(q).first()
    if row is None:
        raise LookupError(f"progress reported on unknown demand {p['demand_code']}")
    actor = f"{p['assignee_type']}:{p['assignee_name']}"
    now = datetime.fromisoformat(p["at"])
    note = p["note"] or f"{p['assignee_name']} reported {p['stage']}"
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
    deadline = calendar.deadline(row.accepted_at, limits[complexity])
    due = deadline.due.astimezone(UTC)
    if only_if_moved and (due, deadline.provisional) == (
        row.expected_at,
        bool(row.deadline_provisional),
    ):
        return False
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


def screen(svc: Service, code: str, principal: Principal, data: dict[str, Any]) -> dict[str, Any]:
    """Set complexity, urgency, feasibility; the promised deadline follows the complexity."""
    now = datetime.now(UTC)
    with svc.uow() as uow:
        row = load_demand(uow.session, code, principal, lock=uow.db.is_postgres)
        if row.status in FINAL:
            raise ApiError(
                409, f"A {row.status} demand is not screened any more.", code="illegal_transition"
            )
        _rescreen(
            uow,
            row,
            principal.key_id,
            now,
            data.get("note", ""),
            complexity=data.get("complexity", row.complexity),
            urgency=data.get("urgency", row.urgency),
            feasibility=data.get("feasibility", row.feasibility),
        )
        uow.commit()
    return get_demand(svc, code, principal)


def rate(
    svc: Service, code: str, principal: Principal, rating: int, comment: str
) -> dict[str, Any]:
    """The satisfaction revisit: once per demand; a rating of 1–2 reopens follow-up."""
    now = datetime.now(UTC)
    with svc.uow() as uow:
        row = load_demand(uow.session, code, principal, lock=uow.db.is_postgres)
        try:
            reopen = revisit(row.status, row.satisfaction_rating is not None, rating)
        except LifecycleError as exc:
            raise ApiError(409, str(exc), code="revisit_refused") from None
        values: dict[str, Any] = {"satisfaction_rating": rating, "satisfaction_comment": comment}
        if reopen is not None:
            values |= {"status": reopen.to_status, "closed_at": None, "resolution": None}
        uow.session.execute(update(demands).where(demands.c.code == code).values(**values))
        record_update(
            uow, code, "revisit", principal.key_id, now, note=comment, details={"rating": rating}
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
                    "actor": principal.key_id,
                    "at": now.isoformat(),
                },
            )
        )
        if reopen is not None:
            record_update(
                uow,
                code,
                "transition",
                principal.key_id,
                now,
                from_status=reopen.from_status,
                to_status=reopen.to_status,
                note=reopen.note,
            )
            _emit_status(uow, row, reopen, principal.key_id, now, None)
        uow.commit()
    return get_demand(svc, code, principal)


def updates(svc: Service, code: str, principal: Principal) -> list[dict[str, Any]]:
    """The demand's whole feed, oldest first: every transition, screening and revisit."""
    t = demand_updates
    with svc.db.session() as s:
        load_demand(s, code, principal)
        rows = s.execute(select(t).where(t.c.demand_code == code).order_by(t.c.id)).mappings()
        return [{**dict(r), "details": json.loads(r["details"])} for r in rows]


def get_time_limits(svc: Service, jurisdiction: str, principal: Principal) -> dict[str, Any]:
    if not principal.can_see(jurisdiction) or svc.directory.jurisdiction(jurisdiction) is None:
        raise ApiError(404, f"No jurisdiction {jurisdiction} in your subtree.")
    with svc.db.session() as s:
        source, limits, calendar = time_rules(s, jurisdiction)
    return {
        "jurisdiction": jurisdiction,
        "source": source,
        **limits,
        "closures": sorted(calendar.closures),
    }


def set_time_limits(
    svc: Service, jurisdiction: str, principal: Principal, data: dict[str, Any]
) -> dict[str, Any]:
    """A jurisdiction's own time limits and closure days (applies to new demands and
    to deadlines recomputed by screening)."""
    if not principal.can_see(jurisdiction) or svc.directory.jurisdiction(jurisdiction) is None:
        raise ApiError(404, f"No jurisdiction {jurisdiction} in your subtree.")
    closures: list[date] = sorted(set(data["closures"]))
    values = {
        "simple": data["simple"],
        "general": data["general"],
        "complex": data["complex"],
        "closures": json.dumps([d.isoformat() for d in closures]),
        "updated_by": principal.key_id,
        "updated_at": datetime.now(UTC),
    }
    with svc.uow() as uow:
        # insert-or-ignore then update: concurrent PUTs of one jurisdiction both succeed
        uow.session.execute(
            insert_or_ignore(uow.db, time_limit_rules).values(jurisdiction=jurisdiction, **values)
        )
        uow.session.execute(
            update(time_limit_rules)
            .where(time_limit_rules.c.jurisdiction == jurisdiction)
            .values(**values)
        )
        uow.commit()
    return get_time_limits(svc, jurisdiction, principal)


def recompute_provisional(svc: Service) -> int:
    """Recompute the deadlines that were provisional (computed past the published
    holiday calendar) now that more of the calendar may be known; returns how many
    moved. Runs when the intake worker starts — after a deploy that brings a newer
    ``chinese-calendar`` — and is idempotent."""
    now = datetime.now(UTC)
    moved = 0
    with svc.uow() as uow:
        rows = uow.session.execute(
            select(demands).where(
                demands.c.deadline_provisional.is_(True), demands.c.status.notin_(FINAL)
            )
        ).all()
        for row in rows:
            moved += _rescreen(
                uow,
                row,
                "system",
                now,
                "deadline recomputed on the published holiday calendar",
                complexity=row.complexity,
                urgency=row.urgency,
                feasibility=row.feasibility,
                only_if_moved=True,
            )
        uow.commit()
    return moved
