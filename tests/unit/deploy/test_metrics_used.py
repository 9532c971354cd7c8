"""Every metric a dashboard panel or an alert reads exists: registered by the code, one of
the RabbitMQ plugin's (onestop.dashboards.RABBITMQ_METRICS) or Prometheus's own ``up``."""

from __future__ import annotations

import pytest
import yaml

from onestop import dashboards
from tests.unit.deploy.support import DEPLOY, metric_names

KNOWN = dashboards.RABBITMQ_METRICS | dashboards.PROMETHEUS_METRICS


def dashboard_exprs() -> list[tuple[str, str]]:
    return [
        (f"{name}: {title}", expr)
        for name, board in dashboards.dashboards().items()
        for title, expr in dashboards.queries(board)
    ]


def alert_exprs() -> list[tuple[str, str]]:
    rules = yaml.safe_load((DEPLOY / "alerts.yml").read_text())
    return [(r["alert"], r["expr"]) for g in rules["groups"] for r in g["rules"]]


def unknown(exprs: list[tuple[str, str]], registered: set[str]) -> dict[str, set[str]]:
    found = {where: metric_names(expr) - registered - KNOWN for where, expr in exprs}
    return {where: names for where, names in found.items() if names}


@pytest.fixture(scope="module")
def registered() -> set[str]:
    return dashboards.registered_metrics()


def test_the_registries_hold_the_code_s_metrics(registered: set[str]) -> None:
    assert {
        "onestop_http_requests_total",
        "onestop_http_request_duration_seconds_bucket",
        "onestop_events_consumed_total",
        "onestop_outbox_pending",
        "onestop_demands_total",
        "onestop_dispatch_decisions_total",
        "onestop_archive_last_verify_ok",
        "onestop_visits_logged_total",
    } <= registered
    assert "onestop_http_request_duration_seconds" not in registered  # only its series


def test_every_metric_a_dashboard_reads_exists(registered: set[str]) -> None:
    exprs = dashboard_exprs()
    assert len(exprs) > 100
    assert unknown(exprs, registered) == {}


def test_every_metric_an_alert_reads_exists(registered: set[str]) -> None:
    assert unknown(alert_exprs(), registered) == {}


def test_a_misspelt_or_unprefixed_metric_is_caught(registered: set[str]) -> None:
    bad = [
        ("typo", "max(onestop_demand_overdue)"),
        ("no _total", "rate(onestop_http_requests[5m])"),
        ("aggregated plugin name", "sum(rabbitmq_queue_messages_ready)"),
        ("fine", 'sum(rate(onestop_events_consumed_total{outcome="applied"}[5m]))'),
    ]
    assert unknown(bad, registered) == {
        "typo": {"onestop_demand_overdue"},
        "no _total": {"onestop_http_requests"},
        "aggregated plugin name": {"rabbitmq_queue_messages_ready"},
    }
