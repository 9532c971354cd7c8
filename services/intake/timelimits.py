"""Intake use cases of the time limits (办理时限): each jurisdiction may set its own
working-day limits, first-response hours (working hours) and closure days; the nearest
jurisdiction on the path that has rules wins, else the defaults (DOMAIN.md).

A new demand takes its rules from this process's copy of the (small) rules table
(``rules_for_new_demand``): a PUT drops that copy at once in the process that made it,
and every other process (the other gunicorn workers, the worker raising demands on
visits) reads the table again within ``RULES_TTL`` seconds. Reading the rules back and
screening always read the table itself."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from services.intake.calendar import DEFAULT_RESPONSE_HOURS, DEFAULT_TIME_LIMITS, WorkingCalendar
from services.intake.models import time_limit_rules
from shared.auth import Principal
from shared.db import Database, UnitOfWork, insert_or_ignore
from shared.events import jurisdiction_path
from shared.usecases import NotFound

TimeRules = tuple[str, dict[str, int], WorkingCalendar]


def rules_in_force(path: list[str], own: Mapping[str, Any]) -> TimeRules:
    """The rules of the nearest jurisdiction on ``path`` (root first) that has its own
    (``own`` by code: rows with simple, general, complex, response_hours and JSON
    closures), else the defaults; with the code they come from, or ``default``. The
    limits are working days by complexity, and ``response_hours``: working hours."""
    for code in reversed(path):
        r = own.get(code)
        if r is not None:
            limits = {
                "simple": r.simple,
                "general": r.general,
                "complex": r.complex,
                "response_hours": DEFAULT_RESPONSE_HOURS
                if r.response_hours is None
                else r.response_hours,
            }
            closures = [date.fromisoformat(d) for d in json.loads(r.closures)]
            return code, limits, WorkingCalendar.with_closures(closures)
    limits = {**DEFAULT_TIME_LIMITS, "response_hours": DEFAULT_RESPONSE_HOURS}
    return "default", limits, WorkingCalendar()


def time_rules(session: Session, jurisdiction: str) -> TimeRules:
    """The time limits and calendar in force for ``jurisdiction``."""
    path = jurisdiction_path(jurisdiction)
    rows = session.execute(
        select(time_limit_rules).where(time_limit_rules.c.jurisdiction.in_(path))
    )
    return rules_in_force(path, {r.jurisdiction: r for r in rows})


# -- this process's copy, for new demands ----------------------------------------------
RULES_TTL = 5.0  # seconds another process may go on using time limits a PUT replaced
clock: Callable[[], float] = time.monotonic  # (tests move it)


@dataclass
class _Copy:
    """The rules table as read at one moment, and the rules in force worked out from it."""

    expires: float
    own: dict[str, Any]
    in_force: dict[str, TimeRules] = field(default_factory=dict)


_copies: dict[str, _Copy] = {}  # by database URL: every Database of this process shares one
_generations: dict[str, int] = {}  # bumped by each change: a copy read before it is not kept
_lock = threading.Lock()


def rules_for_new_demand(session: Session, db: Database, jurisdiction: str) -> TimeRules:
    """The time limits and calendar in force for a demand accepted now in
    ``jurisdiction``: from this process's copy of the rules table, read again (in
    ``session``'s transaction) once it is ``RULES_TTL`` seconds old or this process
    changed the rules (``forget_time_rules``)."""
    now = clock()
    with _lock:
        copy, generation = _copies.get(db.url), _generations.get(db.url, 0)
    if copy is None or copy.expires <= now:
        rows = session.execute(select(time_limit_rules)).all()
        copy = _Copy(now + RULES_TTL, {r.jurisdiction: r for r in rows})
        with _lock:
            if _generations.get(db.url, 0) == generation:  # no change since the read began
                _copies[db.url] = copy
    rules = copy.in_force.get(jurisdiction)
    if rules is None:
        rules = copy.in_force[jurisdiction] = rules_in_force(
            jurisdiction_path(jurisdiction), copy.own
        )
    return rules


def forget_time_rules(db: Database) -> None:
    """Drop this process's copy of ``db``'s rules (after a change has committed)."""
    with _lock:
        _generations[db.url] = _generations.get(db.url, 0) + 1
        _copies.pop(db.url, None)


# -- the use cases ---------------------------------------------------------------------
def require_known(uow: UnitOfWork, actor: Principal, jurisdiction: str) -> None:
    """A unit of the actor's subtree that the directory knows, or NotFound."""
    if not actor.can_see(jurisdiction) or uow.directory.jurisdiction(jurisdiction) is None:
        raise NotFound(f"No jurisdiction {jurisdiction} in your subtree.")


def get_time_limits(uow: UnitOfWork, actor: Principal, jurisdiction: str) -> dict[str, Any]:
    require_known(uow, actor, jurisdiction)
    with uow.read() as s:
        source, limits, calendar = time_rules(s, jurisdiction)
    return {
        "jurisdiction": jurisdiction,
        "source": source,
        **limits,
        "closures": sorted(calendar.closures),
    }


def set_time_limits(
    uow: UnitOfWork, actor: Principal, jurisdiction: str, command: dict[str, Any]
) -> dict[str, Any]:
    """A jurisdiction's own time limits and closure days (applies to new demands — at
    once in this process, within ``RULES_TTL`` seconds in the others — and to deadlines
    recomputed by screening)."""
    require_known(uow, actor, jurisdiction)
    closures: list[date] = sorted(set(command["closures"]))
    values = {
        "simple": command["simple"],
        "general": command["general"],
        "complex": command["complex"],
        "response_hours": command.get("response_hours"),
        "closures": json.dumps([d.isoformat() for d in closures]),
        "updated_by": actor.key_id,
        "updated_at": datetime.now(UTC),
    }
    with uow:
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
    forget_time_rules(uow.db)
    return get_time_limits(uow, actor, jurisdiction)
