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
class OwnerDecision:
    department: Department
    reason: str


def choose_owner(
    jurisdiction: str, category: str, departments: Iterable[Department]
) -> OwnerDecision | None:
    """The responsible department for a demand (XN 服务对接; XM 挂钩联系).

    Nearest jurisdiction first (county, then city, then province): a department
    linked to the demand's segment wins, else that jurisdiction's default
    department. None when no jurisdiction on the path has either.
    """
    depts = sorted(departments, key=lambda d: d.id)
    for code in reversed(jurisdiction_path(jurisdiction)):
        local = [d for d in depts if d.jurisdiction == code]
        for d in local:
            if category in d.segments:
                return OwnerDecision(d, f"department linked to segment '{category}' in {code}")
        for d in local:
            if d.is_default:
                return OwnerDecision(d, f"default responsible department of {code}")
    return None
