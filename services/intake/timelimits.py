"""Intake use cases of the time limits (办理时限): each jurisdiction may set its own
working-day limits and closure days; the nearest jurisdiction on the path that has
rules wins, else the defaults (DOMAIN.md)."""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import UTC, date, datetime
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from services.intake.calendar import DEFAULT_TIME_LIMITS, WorkingCalendar
from services.intake.models import time_limit_rules
from shared.auth import Principal
from shared.db import UnitOfWork, insert_or_ignore
from shared.events import jurisdiction_path
from shared.usecases import NotFound

TimeRules = tuple[str, dict[str, int], WorkingCalendar]


def rules_in_force(path: list[str], own: Mapping[str, Any]) -> TimeRules:
    """The rules of the nearest jurisdiction on ``path`` (root first) that has its own
    (``own`` by code: rows with simple, general, complex and JSON closures), else the
    defaults; with the code they come from, or ``default``."""
    for code in reversed(path):
        r = own.get(code)
        if r is not None:
            limits = {"simple": r.simple, "general": r.general, "complex": r.complex}
            closures = [date.fromisoformat(d) for d in json.loads(r.closures)]
            return code, limits, WorkingCalendar.with_closures(closures)
    return "default", dict(DEFAULT_TIME_LIMITS), WorkingCalendar()


def time_rules(session: Session, jurisdiction: str) -> TimeRules:
    """The time limits and calendar in force for ``jurisdiction``."""
    path = jurisdiction_path(jurisdiction)
    rows = session.execute(
        select(time_limit_rules).where(time_limit_rules.c.jurisdiction.in_(path))
    )
    return rules_in_force(path, {r.jurisdiction: r for r in rows})


def _require_known(uow: UnitOfWork, actor: Principal, jurisdiction: str) -> None:
    if not actor.can_see(jurisdiction) or uow.directory.jurisdiction(jurisdiction) is None:
        raise NotFound(f"No jurisdiction {jurisdiction} in your subtree.")


def get_time_limits(uow: UnitOfWork, actor: Principal, jurisdiction: str) -> dict[str, Any]:
    _require_known(uow, actor, jurisdiction)
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
    """A jurisdiction's own time limits and closure days (applies to new demands and
    to deadlines recomputed by screening)."""
    _require_known(uow, actor, jurisdiction)
    closures: list[date] = sorted(set(command["closures"]))
    values = {
        "simple": command["simple"],
        "general": command["general"],
        "complex": command["complex"],
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
    return get_time_limits(uow, actor, jurisdiction)
