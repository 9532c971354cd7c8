"""Visit rules: the enterprises each responsible unit must visit.

Pure Python: no Flask, SQLAlchemy or kombu.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime


@dataclass(frozen=True)
class EnterpriseLink:
    """A unit (department or staff) responsible for visiting an enterprise (包保)."""

    enterprise_credit_code: str
    unit_type: str
    unit_id: str
    unit_name: str
    jurisdiction: str
    since: datetime
    last_demand_code: str
    demand_count: int = 1


def link_owner(existing: EnterpriseLink | None, new: EnterpriseLink) -> EnterpriseLink:
    """Fold one more owner assignment into the enterprise–unit link.

    The link keeps its first date (the unit has been responsible since then) and
    counts the demands that made the unit responsible.
    """
    if existing is None:
        return new
    if (existing.enterprise_credit_code, existing.unit_type, existing.unit_id) != (
        new.enterprise_credit_code,
        new.unit_type,
        new.unit_id,
    ):
        raise ValueError("links of different enterprise/unit pairs cannot be merged")
    return replace(
        existing,
        since=min(existing.since, new.since),
        last_demand_code=new.last_demand_code
        if new.since >= existing.since
        else existing.last_demand_code,
        demand_count=existing.demand_count + new.demand_count,
        unit_name=new.unit_name,
    )
