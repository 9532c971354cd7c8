"""Periodic jobs of the dispatch worker; each is safe when several workers run it.

* ``sweep_deadlines``: a warning before an open assignment's time limit and the
  overdue breach after it, escalated to the responsible leader. Each (assignment,
  level) is claimed by a primary key in the ``breaches`` table in the same
  transaction as its event, so concurrent sweeps announce it once, and the
  breach stays recorded.
* ``close_months``: at the start of a month each city's previous month is closed
  once (claimed in ``month_closes``): agencies above a cap are paused for the
  new month (CX 第十七条); pauses that ran out are lifted.
"""

from __future__ import annotations

import json
import logging
from datetime import UTC, date, datetime, timedelta
from typing import Any

from sqlalchemy import select

from services.dispatch import alliance as rules_mod
from services.dispatch.alliance import OPEN_STATUSES
from services.dispatch.models import (
    agencies,
    alliances,
    assignments,
    breaches,
    departments,
    month_closes,
    staff,
)
from services.dispatch.orders import (
    china_today,
    city_agencies,
    current_rules,
    lock_city,
    month_tally,
    set_agency_status,
)
from shared.contracts import dispatch as contract
from shared.db import claim
from shared.runtime import Service

log = logging.getLogger(__name__)
BATCH = 500
LOOKAHEAD = timedelta(days=7)  # no city warns earlier than this


def _leader(s: Any, demand_code: str) -> dict[str, Any] | None:
    """The responsible leader: the leader of the department owning the demand."""
    owner = s.execute(
        select(assignments.c.assignee_type, assignments.c.assignee_id).where(
            assignments.c.demand_code == demand_code, assignments.c.kind == "owner"
        )
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


def sweep_deadlines(svc: Service, now: datetime | None = None) -> dict[str, int]:
    """Announce warnings and overdue breaches not announced yet; returns the counts."""
    now = now or datetime.now(UTC)
    counts = {"warning": 0, "overdue": 0}
    a = assignments.c
    with svc.uow() as uow:
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
                    else rules_mod.AllianceRules().warn_hours
                )
                warn[r.city] = timedelta(hours=hours)
            if r.due_at <= now:
                level = "overdue"
            elif r.due_at - warn[r.city] <= now:
                level = "warning"
            else:
                continue
            leader = _leader(s, r.demand_code) if level == "overdue" else None
            claimed = claim(
                s,
                uow.db,
                breaches,
                assignment_id=r.id,
                level=level,
                demand_code=r.demand_code,
                jurisdiction=r.jurisdiction,
                due_at=r.due_at,
                escalated_to=leader["staff_id"] if leader else None,
                at=now,
            )
            if not claimed:
                continue
            counts[level] += 1
            uow.emit(
                contract.deadline(
                    jurisdiction=r.jurisdiction,
                    payload={
                        "assignment_id": r.id,
                        "demand_code": r.demand_code,
                        "kind": r.kind,
                        "assignee_id": r.assignee_id,
                        "level": level,
                        "due_at": r.due_at.isoformat(),
                        "escalate_to": leader,
                        "at": now.isoformat(),
                    },
                )
            )
        uow.commit()
    if counts["overdue"] or counts["warning"]:
        log.info("deadline sweep: %s", counts)
    return counts


def close_month_of(svc: Service, city: str, month: str, actor: str) -> dict[str, Any] | None:
    """Close one city's month once (None when it was already closed)."""
    with svc.uow() as uow:
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
        first, _ = rules_mod.month_bounds(month)
        _, rules = current_rules(s, city, first)
        members = city_agencies(s, city)
        result = rules_mod.close_month(month, rules, month_tally(s, city, month), members)
        by_id = {m.id: m for m in members}
        for p in result.pauses:
            current = by_id[p.agency_id]
            if current.status == "paused" and (
                current.paused_until is None or current.paused_until >= p.until
            ):
                continue  # already paused at least as long (None: until further notice)
            set_agency_status(
                uow, p.agency_id, "paused", p.reason, actor, f"close-{city}-{month}", p.until
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


def lift_expired_pauses(svc: Service, today: date) -> int:
    expired = (
        (agencies.c.status == "paused")
        & agencies.c.paused_until.is_not(None)
        & (agencies.c.paused_until < today)
    )
    lifted = 0
    with svc.uow() as uow:
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


def close_months(svc: Service, today: date | None = None) -> list[dict[str, Any]]:
    """Close the previous month of every city with an alliance (idempotent)."""
    today = today or china_today()
    previous = rules_mod.month_of(today.replace(day=1) - timedelta(days=1))
    with svc.db.session() as s:
        cities = sorted(
            set(s.execute(select(alliances.c.city)).scalars())
            | set(s.execute(select(agencies.c.jurisdiction)).scalars())
        )
    done = [c for c in (close_month_of(svc, city, previous, "dispatch") for city in cities) if c]
    lift_expired_pauses(svc, today)
    return done


def run(svc: Service) -> None:
    """The worker's periodic job."""
    sweep_deadlines(svc)
    close_months(svc)
