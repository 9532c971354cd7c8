"""Co-handling (XN 服务实施: 复杂问题应协调多部门、科研单位、专家资源联合处置): the pure rules.

A complex demand keeps its one lead owner (the owner assignment: the department, or the
named person of a department, that the map chose); the lead's office gives co-tasks to
co-handlers — another department, an expert of the pool (专家库) or a research institute —
each with a task and a due date, and each co-handler reports its feedback once. The lead
alone closes the demand (through intake's loop); a co-task still open then ends with it.

Pure Python: no Flask, SQLAlchemy or kombu.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta

from shared.auth import Principal
from shared.contracts.dispatch import COHANDLER_KINDS, COTASK_STATUSES
from shared.events import in_subtree, jurisdiction_path
from shared.timezone import CHINA

KINDS = COHANDLER_KINDS
OUTCOMES = ("done", "unable")  # what a co-handler reports: its task done, or it cannot
AVAILABILITY = ("available", "unavailable")
OFFICE_ROLES = ("admin", "district", "staff")
MANAGER_ROLES = ("admin", "district")

# A co-task's life: open → reported (its feedback, once) or → ended_with_demand (the
# demand closed or was rejected before the co-handler reported). Both are final.
OPEN, REPORTED, ENDED = "open", "reported", "ended_with_demand"
STATUSES = COTASK_STATUSES  # (OPEN, REPORTED, ENDED)
MOVES = {("report", OPEN): REPORTED, ("end", OPEN): ENDED}


class IllegalMove(Exception):
    """The co-task's status does not allow the move."""


def move(action: str, status: str) -> str:
    """Where ``action`` (``report`` or ``end``) takes a co-task in ``status``."""
    try:
        return MOVES[(action, status)]
    except KeyError:
        raise IllegalMove(f"A co-task that is {status} cannot be {action}ed.") from None


@dataclass(frozen=True)
class Office:
    """A department as co-handling sees it: its unit and its staff."""

    department_id: str
    jurisdiction: str
    staff_ids: frozenset[str] = frozenset()


def acts_for(actor: Principal, office: Office) -> bool:
    """Whether ``actor`` acts for the department ``office``: an office key or person over
    its unit (the department's own unit, or a unit above it: its managers); a person who
    is a staff member of the map, without a manager's role, only for their own department.
    Agencies, enterprises and auditors never."""
    if actor.role not in OFFICE_ROLES or not actor.can_see(office.jurisdiction):
        return False
    if actor.staff_id and actor.role not in MANAGER_ROLES:
        return actor.staff_id in office.staff_ids
    return True


def within_demand(unit: str, demand_jurisdiction: str) -> bool:
    """A co-handler serves the demand's jurisdiction: its unit is the demand's, one above
    it (a city department for a county's demand) or one below it; never a sibling's."""
    try:
        return in_subtree(unit, demand_jurisdiction) or unit in jurisdiction_path(
            demand_jurisdiction
        )
    except ValueError:
        return False


def available_on(availability: str, until: date | None, day: date) -> bool:
    """An expert is available, or unavailable until a day that has passed (``until``
    is the last day away; None: until further notice)."""
    if availability == "available":
        return True
    return until is not None and until < day


def due_at(due_on: date) -> datetime:
    """A co-task is due by the end of its due day, China time (the next midnight)."""
    return datetime.combine(due_on + timedelta(days=1), time(0), tzinfo=CHINA)


def demand_problem(complexity: str | None, lead_status: str | None) -> tuple[str, str] | None:
    """(field, message) when the demand takes no co-handlers: it has no lead owner, is
    not complex (as screened), or is no longer open."""
    if lead_status is None:
        return ("code", "the demand has no responsible owner to lead it")
    if complexity != "complex":
        return ("code", "only a complex demand is co-handled (screen it as complex first)")
    if lead_status != "open":
        return ("code", "the demand is closed or rejected")
    return None


def cohandler_problem(
    kind: str,
    *,
    unit: str | None,
    demand_jurisdiction: str,
    lead_department: str,
    department_id: str | None = None,
    availability: str | None = None,
    until: date | None = None,
    today: date,
) -> tuple[str, str] | None:
    """(field, message) when the co-handler may not take the task: outside the demand's
    jurisdiction, the lead department itself, an expert unavailable today."""
    if kind == "institute":
        return None  # named by the lead with its contact: no pool, no unit
    if unit is None or not within_demand(unit, demand_jurisdiction):
        return ("id", "outside the demand's jurisdiction")
    if kind == "department" and department_id == lead_department:
        return ("id", "the lead department itself")
    if kind == "expert" and not available_on(availability or "unavailable", until, today):
        away = f" until {until.isoformat()}" if until else ""
        return ("id", f"the expert is unavailable{away}")
    return None


def due_problem(due_on: date, today: date) -> str | None:
    if due_on < today:
        return "in the past"
    return None


def duplicate(open_or_reported: Collection[tuple[str, str]], kind: str, ident: str) -> bool:
    """Whether the co-handler already has a co-task on the demand that has not ended with
    it (each co-handler reports on a demand once; a new task after a reopening is fine)."""
    return (kind, ident) in open_or_reported
