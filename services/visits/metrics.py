"""Visits' business metrics."""

from __future__ import annotations

from prometheus_client import Counter, Gauge

from shared.metrics import belong

VISITS = Counter("onestop_visits_logged_total", "Visits logged, by kind", ["kind"])
PLANS_MISSED = Counter("onestop_visit_plans_missed_total", "Planned visits that were missed")
SHORTFALLS = Gauge(
    "onestop_visit_compliance_shortfalls",
    "Subjects short of a frequency rule in its last closed period, by rule",
    ["rule"],
    multiprocess_mode="livemax",
)
belong("visits", VISITS, PLANS_MISSED, SHORTFALLS)
