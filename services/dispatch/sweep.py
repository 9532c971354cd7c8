"""Periodic jobs of the dispatch worker; each is safe when several workers run it.

* ``sweep_deadlines``: a warning before an open assignment's time limit and the
  overdue breach after it, escalated to the responsible leader; and an owner that has
  not responded (screened, moved or reported) by its first-response limit is
  ``unanswered``, escalated the same way. Each (assignment, level) is claimed by a
  primary key in the ``breaches`` table in the same transaction as its event, so
  concurrent sweeps announce it once, and the breach stays recorded.
* ``close_months``: at the start of a month each city's previous month is closed
  once (claimed in ``month_closes``): agencies at or above a cap are paused for the
  new month (CX 第十七条); pauses that ran out are lifted.
"""

from __future__ import annotations

import json
import logging
from datetime import UTC, date, datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from services.dispatch import metrics
from services.dispatch.alliance import AllianceRules
from services.dispatch.city_alliance import (
    city_agencies,
    city_scope,
    current_rules,
    lock_city,
    month_tally,
)
from services.dispatch.membership import set_agency_status
from services.dispatch.models import (
    agencies,
    alliances,
    assignments,
    breaches,
    departments,
    month_closes,
    staff,
)
from services.dispatch.month_close import close_month, month_bounds, month_of
from services.dispatch.order_life import OPEN_STATUSES
from shared.auth import Principal
from shared.contracts import dispatch as contract
from shared.db import UnitOfWork, claim
from shared.events import subtree_prefix
from shared.runtime import Service
from shared.timezone import china_today
from shared.usecases import Conflict, Invalid

log = logging.getLogger(__name__)
BATCH = 500
LOOKAHEAD = timedelta(days=7)  # no city warns earlier than this


def responsible_leader(s: Session, demand_code: str) -> dict[str, Any] | None:
    """The responsible leader: the leader of the department owning the demand (its newest
    owner assignment: a transfer replaces the old one)."""
    owner = s.execute(
        select(assignments.c.assignee_type, assignments.c.assignee_id)
        .where(assignments.c.demand_code == demand_code, assignments.c.kind == "owner")
        .order_by(assignments.c.assigned_at.desc(), assignments.c.id)
    ).first()
    if owner is None:
        return None
    dept_id = owner.assignee_id
    if owner.assignee_type == "staff":
        dept_id = s.execute(
            select(staff.c.department_id).where(staff.c.id == owner.assignee_id)
        ).scalar()
    leader_id = s.execute(
        select(departments.c.leader_staff_id).where(departments.c.id == dept_id)
    ).scalar()
    if not leader_id:
        return None
    person = s.execute(select(staff).where(staff.c.id == leader_id)).first()
    if person is None:
        return None
    return {"staff_id": person.id, "name": person.name, "title": person.title}


def deadline_level(due_at: datetime, warn: timedelta, now: datetime) -> str | None:
    """``overdue`` past the time limit, ``warning`` within ``warn`` of it, else None."""
    if due_at <= now:
        return "overdue"
    if due_at - warn <= now:
        return "warning"
    return None


def _announce(uow: UnitOfWork, r: Any, level: str, due_at: datetime, now: datetime) -> int:
    """Claim one (assignment, level) and announce it, escalated to the responsible leader
    unless it is a warning; 0 when another sweep claimed it first."""
    s = uow.session
    leader = responsible_leader(s, r.demand_code) if level != "warning" else None
    claimed = claim(
        s,
        uow.db,
        breaches,
        assignment_id=r.id,
        level=level,
        demand_code=r.demand_code,
        jurisdiction=r.jurisdiction,
        due_at=due_at,
        escalated_to=leader["staff_id"] if leader else None,
        at=now,
    )
    if not claimed:
        return 0
    uow.emit(
        contract.deadline(
            jurisdiction=r.jurisdiction,
            payload={
                "assignment_id": r.id,
                "demand_code": r.demand_code,
                "kind": r.kind,
                "assignee_id": r.assignee_id,
                "level": level,
                "due_at": due_at.isoformat(),
                "escalate_to": leader,
                "at": now.isoformat(),
            },
        )
    )
    return 1


def sweep_deadlines(uow: UnitOfWork, now: datetime | None = None) -> dict[str, int]:
    """Announce warnings and overdue breaches not announced yet; returns the counts."""
    now = now or datetime.now(UTC)
    counts = {"warning": 0, "overdue": 0, "unanswered": 0}
    a = assignments.c
    with uow:
        s = uow.session
        b = breaches.c

        def announced(level: str) -> Any:
            return select(b.assignment_id).where(b.assignment_id == a.id, b.level == level).exists()

        # Only rows still owed an announcement (announced ones never crowd out the rest),
        # in a fixed order (concurrent sweeps claim in the same order: no deadlock).
        rows = s.execute(
            select(assignments)
            .where(
                a.status.in_(("open", *OPEN_STATUSES)),
                a.due_at.is_not(None),
                a.due_at < now + LOOKAHEAD,
                ~announced("overdue"),
                ~((a.due_at > now) & announced("warning")),
            )
            .order_by(a.due_at, a.id)
            .limit(BATCH)
        ).all()
        warn: dict[str | None, timedelta] = {}
        for r in rows:
            if r.city not in warn:
                hours = (
                    current_rules(s, r.city, china_today(now))[1].warn_hours
                    if r.city
                    else AllianceRules().warn_hours
                )
                warn[r.city] = timedelta(hours=hours)
            level = deadline_level(r.due_at, warn[r.city], now)
            if level is not None:
                counts[level] += _announce(uow, r, level, r.due_at, now)
        unanswered = s.execute(
            select(assignments)
            .where(
                a.kind == "owner",
                a.status == "open",
                a.responded_at.is_(None),
                a.respond_by < now,
                ~announced("unanswered"),
            )
            .order_by(a.respond_by, a.id)
            .limit(BATCH)
        ).all()
        for r in unanswered:
            counts["unanswered"] += _announce(uow, r, "unanswered", r.respond_by, now)
        uow.commit()
    metrics.breached(counts)
    if any(counts.values()):
        log.info("deadline sweep: %s", counts)
    return counts


def close_past_month(
    uow: UnitOfWork, actor: Principal, city: str, data: dict[str, Any]
) -> dict[str, Any]:
    """Close a past ``data["month"]`` of a city now (the worker does it on the 1st):
    Invalid for this month or a later one, Conflict when it is already closed."""
    city_scope(actor, city)  # a city code within the actor's subtree
    month = data["month"]
    if month >= china_today().strftime("%Y-%m"):
        raise Invalid(
            "Only a past month can be closed.",
            fields={"json": {"month": ["not a past month"]}},
        )
    done = close_month_of(uow, city, month, actor.key_id)
    if done is None:
        raise Conflict(f"{city} {month} is already closed.")
    return done


def close_month_of(uow: UnitOfWork, city: str, month: str, by: str) -> dict[str, Any] | None:
    """Close one city's month once (None when it was already closed); ``by``: who acts."""
    with uow:
        s = uow.session
        claimed = claim(
            s,
            uow.db,
            month_closes,
            city=city,
            month=month,
            summary="{}",
            closed_at=datetime.now(UTC),
        )
        if not claimed:
            return None
        lock_city(uow, city)
        first, _ = month_bounds(month)
        _, rules = current_rules(s, city, first)
        members = city_agencies(s, city)
        result = close_month(month, rules, month_tally(s, city, month), members)
        by_id = {m.id: m for m in members}
        for p in result.pauses:
            current = by_id[p.agency_id]
            if current.status == "paused" and (
                current.paused_until is None or current.paused_until >= p.until
            ):
                continue  # already paused at least as long (None: until further notice)
            set_agency_status(
                uow, p.agency_id, "paused", p.reason, by, f"close-{city}-{month}", p.until
            )
        summary = {
            "city": city,
            "month": month,
            "pauses": [
                {"agency_id": p.agency_id, "until": p.until.isoformat(), "reason": p.reason}
                for p in result.pauses
            ],
            "kept_active": [{"agency_id": a, "reason": why} for a, why in result.kept],
        }
        s.execute(
            month_closes.update()
            .where(month_closes.c.city == city, month_closes.c.month == month)
            .values(summary=json.dumps(summary, ensure_ascii=False))
        )
        uow.commit()
    return summary


def lift_expired_pauses(uow: UnitOfWork, today: date) -> int:
    expired = (
        (agencies.c.status == "paused")
        & agencies.c.paused_until.is_not(None)
        & (agencies.c.paused_until < today)
    )
    lifted = 0
    with uow:
        ids = uow.session.execute(select(agencies.c.id).where(expired)).scalars().all()
        for agency_id in ids:
            # re-read under the row lock: another worker may have lifted it, or a
            # manager paused it again, in the meantime
            still = uow.session.execute(
                select(agencies.c.id).where(agencies.c.id == agency_id, expired).with_for_update()
            ).first()
            if still is not None:
                set_agency_status(
                    uow, agency_id, "active", "pause ended", "dispatch", f"resume-{agency_id}"
                )
                lifted += 1
        uow.commit()
    return lifted


def close_months(uow: UnitOfWork, today: date | None = None) -> list[dict[str, Any]]:
    """Close the previous month of every city with an alliance (idempotent), then lift
    the pauses that ran out."""
    today = today or china_today()
    previous = month_of(today.replace(day=1) - timedelta(days=1))
    with uow.read() as s:
        cities = sorted(
            set(s.execute(select(alliances.c.city)).scalars())
            | set(s.execute(select(agencies.c.jurisdiction)).scalars())
        )
    done = [c for c in (close_month_of(uow, city, previous, "dispatch") for city in cities) if c]
    lift_expired_pauses(uow, today)
    return done


def list_breaches(uow: UnitOfWork, actor: Principal, query: dict[str, Any]) -> list[dict[str, Any]]:
    """Time-limit warnings and overdue breaches in the actor's subtree, newest first."""
    b = breaches.c
    q = select(breaches).where(b.jurisdiction.startswith(subtree_prefix(actor.jurisdiction)))
    with uow.read() as s:
        return [
            dict(r) for r in s.execute(q.order_by(b.at.desc()).limit(query["limit"])).mappings()
        ]


def run(svc: Service) -> None:
    """The worker's periodic job."""
    sweep_deadlines(svc.uow())
    close_months(svc.uow())
