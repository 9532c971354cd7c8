"""Dispatch rules: who owns a demand (the 包保 responsibility map).

Pure Python: no Flask, SQLAlchemy or kombu.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from shared.events import jurisdiction_path


@dataclass(frozen=True)
class Department:
    id: str
    jurisdiction: str
    name: str
    segments: tuple[str, ...] = ()
    is_default: bool = False


@dataclass(frozen=True)
class Person:
    """A named staff member (包保人员)."""

    id: str
    name: str


@dataclass(frozen=True)
class OwnerDecision:
    department: Department
    reason: str
    person: Person | None = None
    person_missing: bool = False  # the enterprise needs a named person and has none yet


def choose_owner(
    jurisdiction: str,
    category: str,
    departments: Iterable[Department],
    *,
    growth_tier: str | None = None,
    needs_person: bool = False,
    person: Person | None = None,
) -> OwnerDecision | None:
    """The responsible owner of a demand (XN 服务对接; XM 挂钩联系; SX 专人包保).

    Nearest jurisdiction first (county, then city, then province): a department
    linked to the demand's segment — its category, or the enterprise's growth
    tier (XM: the high-tech department ↔ high-tech enterprises) — wins, else that
    jurisdiction's default department. None when no jurisdiction on the path has
    either. A key or "两清零"-flagged enterprise (``needs_person``) is owned by its
    named person when the map names one; otherwise the department owns it and
    the decision says the named person is missing.
    """
    segments = {category} | ({growth_tier} if growth_tier else set())
    depts = sorted(departments, key=lambda d: d.id)
    found: OwnerDecision | None = None
    for code in reversed(jurisdiction_path(jurisdiction)):
        local = [d for d in depts if d.jurisdiction == code]
        for d in local:
            hit = sorted(segments & set(d.segments))
            if hit:
                found = OwnerDecision(d, f"department linked to segment '{hit[0]}' in {code}")
                break
        if found is None:
            for d in local:
                if d.is_default:
                    found = OwnerDecision(d, f"default responsible department of {code}")
                    break
        if found is not None:
            break
    if found is None or not needs_person:
        return found
    if person is not None:
        return OwnerDecision(
            found.department,
            f"named person (专人包保) {person.name} for a key or flagged enterprise",
            person,
        )
    return OwnerDecision(
        found.department,
        found.reason + "; the enterprise needs a named person (专人包保) and none is mapped yet",
        person_missing=True,
    )


# The agency order statuses that count in a month's caps and the alliance gauges.
COUNTED = ("dispatched", "acknowledged", "in_progress", "refused", "completed")
