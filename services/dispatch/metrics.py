"""Dispatch's business metrics: decisions, the alliance's shares and its queues.

Per-agency series are limited to the ``TOP_N`` agencies by orders this month, so
label sets stay bounded whatever the size of the alliance.
"""

from __future__ import annotations

from datetime import UTC, datetime

from prometheus_client import Counter, Gauge
from sqlalchemy import func, select

from services.dispatch.domain import COUNTED
from services.dispatch.models import agencies, assignments
from shared.metrics import belong
from shared.runtime import Service
from shared.timezone import china_today

TOP_N = 10

DECISIONS = Counter(
    "onestop_dispatch_decisions_total",
    "Agency dispatch decisions by outcome (ordered, rotation, cap_override, no_agency, "
    "blacklisted)",
    ["outcome"],
)
SKIPS = Counter(
    "onestop_dispatch_rotation_skips_total",
    "Agencies passed over in rotation, by reason (paused, exited, cap, taken off, ordered)",
    ["reason"],
)
REASSIGNMENTS = Counter(
    "onestop_dispatch_reassignments_total", "Orders moved to another agency (调单)"
)
OWNERS = Counter(
    "onestop_dispatch_owner_assignments_total",
    "Owner assignments by kind of owner (department, staff, none, named_person_missing)",
    ["outcome"],
)
ORDERS = Gauge(
    "onestop_dispatch_agency_orders_month",
    f"Orders this month per agency (top {TOP_N})",
    ["agency"],
    multiprocess_mode="livemax",
)
VALUE_SHARE = Gauge(
    "onestop_dispatch_agency_value_share_month",
    f"Share of this month's service value per agency, city-wide (top {TOP_N} by orders)",
    ["agency"],
    multiprocess_mode="livemax",
)
AGENCIES = Gauge(
    "onestop_dispatch_agencies",
    "Member agencies by status (active, paused, exited)",
    ["status"],
    multiprocess_mode="livemax",
)
QUEUE_DEPTH = Gauge(
    "onestop_dispatch_agency_queue_depth",
    f"Messages waiting in agency queues (top {TOP_N} by orders)",
    ["agency"],
    multiprocess_mode="livemax",
)
OVERDUE = Gauge(
    "onestop_dispatch_overdue_assignments",
    "Open assignments past their time limit, by kind (owner, agency)",
    ["kind"],
    multiprocess_mode="livemax",
)
BREACH_KINDS = ("overdue", "unanswered")
BREACHES = Counter(
    "onestop_breaches_total",
    "Breaches the deadline sweep escalated to the responsible leader, by kind: overdue (an "
    "open assignment past its time limit), unanswered (an owner with no response by its "
    "first-response limit); counted once per assignment and kind, when the sweep commits",
    ["kind"],
)
for _kind in BREACH_KINDS:
    BREACHES.labels(_kind)  # born at 0: the first breach is an increase
belong(
    "dispatch",
    DECISIONS,
    SKIPS,
    REASSIGNMENTS,
    OWNERS,
    ORDERS,
    VALUE_SHARE,
    AGENCIES,
    QUEUE_DEPTH,
    OVERDUE,
    BREACHES,
)


def breached(counts: dict[str, int]) -> None:
    """Count the breaches a committed sweep escalated (its counts by level)."""
    for kind in BREACH_KINDS:
        if counts.get(kind):
            BREACHES.labels(kind).inc(counts[kind])


def refresh(svc: Service) -> None:
    """Gauges read from the database and the broker (at scrape time)."""
    from services.dispatch import broker

    a = assignments.c
    month = china_today().strftime("%Y-%m")
    now = datetime.now(UTC)
    with svc.db.reading() as s:
        by_status: dict[str, int] = dict(
            s.execute(select(agencies.c.status, func.count()).group_by(agencies.c.status)).all()
        )
        rows = s.execute(
            select(a.assignee_id, func.count(), func.sum(a.value))
            .where(a.kind == "agency", a.month == month, a.status.in_(COUNTED))
            .group_by(a.assignee_id)
        ).all()
        overdue: dict[str, int] = dict(
            s.execute(
                select(a.kind, func.count())
                .where(
                    a.status.in_(("open", "dispatched", "acknowledged", "in_progress", "refused"))
                )
                .where(a.due_at < now)
                .group_by(a.kind)
            ).all()
        )
    for status in ("active", "paused", "exited"):
        AGENCIES.labels(status).set(by_status.get(status, 0))
    for kind in ("owner", "agency"):
        OVERDUE.labels(kind).set(overdue.get(kind, 0))
    total_value = sum(int(v or 0) for _, _, v in rows)
    top = sorted(rows, key=lambda r: (-r[1], r[0]))[:TOP_N]
    for series in (ORDERS, VALUE_SHARE, QUEUE_DEPTH):
        series.clear()
    for agency_id, n, value in top:
        ORDERS.labels(agency_id).set(n)
        VALUE_SHARE.labels(agency_id).set(int(value or 0) / total_value if total_value else 0)
    for agency_id, depth in broker.queue_depths(svc.settings, [r[0] for r in top]).items():
        QUEUE_DEPTH.labels(agency_id).set(depth)
