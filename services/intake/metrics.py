"""Intake's business metrics: the flow of demands and the state of the loop."""

from __future__ import annotations

from datetime import UTC, datetime

from prometheus_client import Counter, Gauge
from sqlalchemy import case, func, select

from services.intake.models import demands
from shared.events import jurisdiction_path
from shared.metrics import belong
from shared.runtime import Service

LEVELS = ("province", "city", "county")  # a six-digit division, by its path
PLATFORM_LEVELS = {"P": "park", "S": "station", "W": "workstation"}  # by the last letter

DEMANDS = Counter(
    "onestop_demands_total",
    "Demands by what happened to them (accepted, rejected, closed), category and level",
    ["event", "category", "level"],
)
OPEN = Gauge(
    "onestop_demands_open",
    "Demands not closed or rejected, by status",
    ["status"],
    multiprocess_mode="livemax",
)
OVERDUE = Gauge(
    "onestop_demands_overdue",
    "Open demands past their promised deadline",
    multiprocess_mode="livemax",
)
CLOSURE_RATE = Gauge(
    "onestop_demand_closure_rate",
    "Closed demands / all demands not rejected",
    multiprocess_mode="livemax",
)
ON_TIME_RATE = Gauge(
    "onestop_demand_on_time_rate",
    "Demands closed by their deadline / closed demands",
    multiprocess_mode="livemax",
)
belong("intake", DEMANDS, OPEN, OVERDUE, CLOSURE_RATE, ON_TIME_RATE)


def level(jurisdiction: str) -> str:
    """A unit's level, a label of few values: a division's (province, city, county), a
    township, or the kind of unit the platform codes (park, station, workstation)."""
    path = jurisdiction_path(jurisdiction)
    base, *platform = jurisdiction.split("-")
    if platform:
        return PLATFORM_LEVELS[platform[-1][0]]
    if len(base) == 9:
        return "township"
    return LEVELS[len(path) - 1]


def counted(event: str, category: str, jurisdiction: str) -> None:
    DEMANDS.labels(event, category, level(jurisdiction)).inc()


def refresh(svc: Service) -> None:
    """Read the loop's state from the database (at scrape time)."""
    d = demands
    now = datetime.now(UTC)
    is_open = d.c.status.notin_(("closed", "rejected"))
    with svc.db.reading() as s:
        rows = s.execute(select(d.c.status, func.count()).group_by(d.c.status)).all()
        by_status: dict[str, int] = {str(st): int(n) for st, n in rows}
        overdue = s.scalar(select(func.count()).where(is_open, d.c.expected_at < now)) or 0
        on_time = (
            s.scalar(
                select(func.sum(case((d.c.closed_at <= d.c.expected_at, 1), else_=0))).where(
                    d.c.status == "closed"
                )
            )
            or 0
        )
    for status in ("accepted", "in_progress", "feedback", "follow_up"):
        OPEN.labels(status).set(by_status.get(status, 0))
    OVERDUE.set(overdue)
    handled = sum(n for st, n in by_status.items() if st != "rejected")
    closed = by_status.get("closed", 0)
    CLOSURE_RATE.set(closed / handled if handled else 0)
    ON_TIME_RATE.set(on_time / closed if closed else 0)
