"""Grafana dashboards as code (grafana-foundation-sdk): a platform overview and one
dashboard per service, written as JSON to ``deploy/grafana/dashboards/`` and provisioned
by ``deploy/grafana/dashboards.yml``. ``make dashboards`` writes them; a test fails when
the committed JSON differs from what this module makes, so nobody edits it by hand.

Every query is plain PromQL on a fixed window (no Grafana variables), so each one can be
checked by promtool and its metric names against the registries of the code
(``registered_metrics``) and the RabbitMQ plugin's names below.
"""

from __future__ import annotations

import importlib
import json
import pkgutil
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from grafana_foundation_sdk.builders import dashboard, prometheus, stat, timeseries
from grafana_foundation_sdk.cog.encoder import JSONEncoder
from grafana_foundation_sdk.models.dashboard import DataSourceRef

OUT = Path(__file__).resolve().parent.parent / "deploy" / "grafana" / "dashboards"
DATASOURCE = DataSourceRef(type_val="prometheus", uid="onestop-prometheus")  # datasource.yml
SERVICES = ("directory", "intake", "dispatch", "visits", "scoring", "archive", "console")
WORKERLESS = frozenset({"console"})  # no worker, no queue: HTTP only
WINDOW = "5m"
# The RabbitMQ Prometheus plugin's metrics the dashboards and alerts use (checked against
# rabbitmq_prometheus 3.10.8: /metrics for the node, /metrics/detailed with the families
# queue_coarse_metrics and queue_consumer_count for the queues; see deploy/prometheus.yml).
RABBITMQ_METRICS = frozenset(
    {
        "rabbitmq_detailed_queue_messages_ready",
        "rabbitmq_detailed_queue_messages_unacked",
        "rabbitmq_detailed_queue_messages",
        "rabbitmq_detailed_queue_consumers",
        "rabbitmq_alarms_memory_used_watermark",
        "rabbitmq_alarms_free_disk_space_watermark",
        "rabbitmq_alarms_file_descriptor_limit",
        "rabbitmq_connections",
        "rabbitmq_consumers",
        "rabbitmq_queues",
        "rabbitmq_process_resident_memory_bytes",
        "rabbitmq_resident_memory_limit_bytes",
    }
)
PROMETHEUS_METRICS = frozenset({"up"})  # Prometheus's own, per target


class Board:
    """One dashboard being laid out: rows of panels, ids and query ids in order."""

    def __init__(self, uid: str, title: str, description: str) -> None:
        self.builder = (
            dashboard.Dashboard(title)
            .uid(uid)
            .description(description)
            .tags(["onestop"])
            .editable()
            .refresh("30s")
            .time("now-6h", "now")
            .timezone("browser")
        )
        self.next_id = 1

    def row(self, title: str) -> None:
        self.builder.with_row(dashboard.Row(title).id(self._id()))

    def _id(self) -> int:
        self.next_id += 1
        return self.next_id - 1

    def graph(
        self, title: str, unit: str, *queries: tuple[str, str], description: str = "", span: int = 8
    ) -> None:
        """A time series panel: ``queries`` are (PromQL, legend) pairs."""
        panel = timeseries.Panel().unit(unit).fill_opacity(10)
        self._add(panel, title, description, span, queries, instant=False)

    def number(
        self, title: str, unit: str, *queries: tuple[str, str], description: str = "", span: int = 4
    ) -> None:
        """A stat panel: the current value of each query."""
        self._add(stat.Panel().unit(unit), title, description, span, queries, instant=True)

    def _add(
        self,
        panel: Any,
        title: str,
        description: str,
        span: int,
        queries: tuple[tuple[str, str], ...],
        instant: bool,
    ) -> None:
        panel = panel.id(self._id()).title(title).datasource(DATASOURCE).span(span).height(8)
        if description:
            panel = panel.description(description)
        for ref, (expr, legend) in zip("ABCDEFGH", queries, strict=False):
            query = prometheus.Dataquery().expr(expr).legend_format(legend).ref_id(ref)
            panel = panel.with_target(query.instant() if instant else query.range())
        self.builder.with_panel(panel)

    def build(self) -> dict[str, Any]:
        out: dict[str, Any] = json.loads(json.dumps(self.builder.build(), cls=JSONEncoder))
        return out


def _queues(service: str, dlq: bool = False) -> str:
    """A label matcher for a service's consumer queues (or their dead-letter queues)."""
    if dlq:
        return f'queue=~"{service}\\\\..+\\\\.dlq"'
    return f'queue=~"{service}\\\\..+", queue!~".+\\\\.dlq"'


def _rate(metric: str, matchers: str, by: str) -> str:
    selector = f"{metric}{{{matchers}}}" if matchers else metric
    return f"sum by ({by}) (rate({selector}[{WINDOW}]))"


def red_row(board: Board, service: str) -> None:
    s = f'service="{service}"'
    board.row("Requests: rate, errors, duration (per endpoint)")
    board.graph(
        "Requests per second",
        "reqps",
        (_rate("onestop_http_requests_total", s, "endpoint"), "{{endpoint}}"),
    )
    board.graph(
        "5xx share",
        "percentunit",
        (
            _rate("onestop_http_requests_total", s + ', status=~"5.."', "endpoint")
            + " / "
            + _rate("onestop_http_requests_total", s, "endpoint"),
            "{{endpoint}}",
        ),
        description="Share of the endpoint's requests answered with a 5xx (alert above 5%).",
    )
    board.graph(
        "p95 duration",
        "s",
        (
            "histogram_quantile(0.95, "
            f"{_rate('onestop_http_request_duration_seconds_bucket', s, 'endpoint, le')})",
            "{{endpoint}}",
        ),
    )
    board.graph(
        "4xx per second",
        "reqps",
        (_rate("onestop_http_requests_total", s + ', status=~"4.."', "endpoint, status"), ""),
        description="Requests refused for their input or credentials, by endpoint and status.",
        span=24,
    )


def events_row(board: Board, service: str) -> None:
    q = _queues(service)
    board.row("Events: queues, consumers, outbox, dead letters")
    board.graph(
        "Queue depth (ready: consumer lag)",
        "short",
        (f"sum by (queue) (rabbitmq_detailed_queue_messages_ready{{{q}}})", "{{queue}}"),
        description="Messages waiting for the service's worker, per queue (RabbitMQ).",
    )
    board.graph(
        "In flight (unacknowledged)",
        "short",
        (f"sum by (queue) (rabbitmq_detailed_queue_messages_unacked{{{q}}})", "{{queue}}"),
    )
    board.graph(
        "Consumers per queue",
        "short",
        (f"sum by (queue) (rabbitmq_detailed_queue_consumers{{{q}}})", "{{queue}}"),
        description="0 means nobody reads the queue (alert OnestopQueueNoConsumer).",
    )
    board.graph(
        "Deliveries handled, by outcome",
        "ops",
        (_rate("onestop_events_consumed_total", q, "outcome"), "{{outcome}}"),
    )
    board.graph(
        "Consumer errors",
        "ops",
        (
            _rate(
                "onestop_events_consumed_total",
                q + ', outcome=~"retried|dead_lettered|requeued"',
                "queue, outcome",
            ),
            "{{queue}} {{outcome}}",
        ),
        description="Retried, dead-lettered, and requeued while a dependency is down.",
    )
    board.graph(
        "Events published (relay)",
        "ops",
        (
            _rate("onestop_events_published_total", f'producer="{service}"', "event_type"),
            "{{event_type}}",
        ),
    )
    board.graph(
        "Relay failures",
        "ops",
        (_rate("onestop_relay_failures_total", f'service="{service}"', "cause"), "{{cause}}"),
        description="Relay rounds that could not publish (unavailable: broker or database"
        " down); the rows wait in the outbox (alert after 10 minutes of failures).",
    )
    board.graph(
        "Outbox backlog",
        "short",
        (f'max(onestop_outbox_pending{{service="{service}"}})', "pending"),
        description="Rows committed but not yet confirmed by the broker (alert above 100 for 5m).",
    )
    board.graph(
        "Dead letters",
        "short",
        (
            f"sum by (queue) (rabbitmq_detailed_queue_messages{{{_queues(service, dlq=True)}}})",
            "{{queue}}",
        ),
        (f'max(onestop_dead_letters{{service="{service}"}})', "kept in the database"),
    )
    board.graph(
        "Consumer paused",
        "short",
        (f'max(onestop_consumer_paused{{service="{service}"}})', "paused"),
        description="1 while the worker waits for its database (alert after 10 minutes).",
    )


def _business(board: Board, service: str) -> None:
    """The service's own figures, where it has some."""
    if service == "intake":
        board.row("Demands")
        board.graph(
            "Demands per day",
            "short",
            ("sum by (event) (increase(onestop_demands_total[1d]))", "{{event}}"),
        )
        board.graph(
            "Open, by status", "short", ("max by (status) (onestop_demands_open)", "{{status}}")
        )
        board.graph("Overdue", "short", ("max(onestop_demands_overdue)", "overdue"))
    elif service == "dispatch":
        board.row("Dispatch")
        board.graph(
            "Decisions, by outcome",
            "ops",
            (_rate("onestop_dispatch_decisions_total", "", "outcome"), "{{outcome}}"),
        )
        board.graph(
            "Overdue assignments",
            "short",
            ("max by (kind) (onestop_dispatch_overdue_assignments)", "{{kind}}"),
        )
        board.graph(
            "Agency queues (top 10 by depth)",
            "short",
            (
                "topk(10, sum by (queue) "
                '(rabbitmq_detailed_queue_messages_ready{queue=~"agency\\\\..+"}))',
                "{{queue}}",
            ),
            description="Orders waiting for each agency's own client to fetch them.",
        )
    elif service == "archive":
        board.row("Hash chain")
        board.number("Chain length", "short", ("max(onestop_archive_chain_length)", "records"))
        board.number("Last verify ok", "bool", ("min(onestop_archive_last_verify_ok)", "ok"))
        board.number(
            "Since the last verify",
            "s",
            ("time() - max(onestop_archive_last_verify_timestamp_seconds)", "age"),
        )
        board.graph(
            "Archived per second",
            "ops",
            (_rate("onestop_archive_events_total", "", "producer"), "{{producer}}"),
            span=12,
        )
    elif service == "visits":
        board.row("Visits")
        board.graph(
            "Visits logged per day",
            "short",
            ("sum by (kind) (increase(onestop_visits_logged_total[1d]))", "{{kind}}"),
        )
        board.graph(
            "Planned visits missed per day",
            "short",
            ("sum(increase(onestop_visit_plans_missed_total[1d]))", "missed"),
        )
        board.graph(
            "Compliance shortfalls",
            "short",
            ("max by (rule) (onestop_visit_compliance_shortfalls)", "{{rule}}"),
        )


def service_dashboard(service: str) -> dict[str, Any]:
    board = Board(
        f"onestop-{service}",
        f"onestop / {service}",
        f"The {service} service: its API per endpoint"
        + ("" if service in WORKERLESS else ", its queues, outbox and dead letters"),
    )
    red_row(board, service)
    if service not in WORKERLESS:
        events_row(board, service)
    _business(board, service)
    return board.build()


def overview() -> dict[str, Any]:
    board = Board(
        "onestop-overview",
        "onestop / overview",
        "The whole platform: every service's API, the broker, the event flow and the business.",
    )
    by_service_queue = (
        'label_replace({metric}{{queue!~"agency\\\\..+|.+\\\\.dlq"}},'
        ' "service", "$1", "queue", "([^.]+)\\\\..+")'
    )
    board.row("Services")
    board.graph(
        "Targets up",
        "short",
        ('min by (onestop_service) (up{job=~"onestop-.+"})', "{{onestop_service}}"),
        description="1 when Prometheus scrapes every process of the service (API and worker).",
    )
    board.graph(
        "Requests per second",
        "reqps",
        (_rate("onestop_http_requests_total", "", "service"), "{{service}}"),
    )
    board.graph(
        "5xx share",
        "percentunit",
        (
            _rate("onestop_http_requests_total", 'status=~"5.."', "service")
            + " / "
            + _rate("onestop_http_requests_total", "", "service"),
            "{{service}}",
        ),
    )
    board.graph(
        "p95 duration",
        "s",
        (
            "histogram_quantile(0.95, "
            f"{_rate('onestop_http_request_duration_seconds_bucket', '', 'service, le')})",
            "{{service}}",
        ),
    )
    board.graph(
        "Queue depth (ready), by service",
        "short",
        (
            "sum by (service) ("
            + by_service_queue.format(metric="rabbitmq_detailed_queue_messages_ready")
            + ")",
            "{{service}}",
        ),
    )
    board.graph(
        "Outbox backlog, by service",
        "short",
        ("max by (service) (onestop_outbox_pending)", "{{service}}"),
    )
    board.graph(
        "Dead letters",
        "short",
        (
            'sum by (queue) (rabbitmq_detailed_queue_messages{queue=~".+\\\\.dlq"}) > 0',
            "{{queue}}",
        ),
        ("max by (service) (onestop_dead_letters) > 0", "{{service}} (database)"),
        description="Messages in dead-letter queues, and dead letters kept by the services.",
    )
    board.graph(
        "Consumer errors, by outcome",
        "ops",
        (
            _rate(
                "onestop_events_consumed_total",
                'outcome=~"retried|dead_lettered|requeued"',
                "outcome",
            ),
            "{{outcome}}",
        ),
    )
    board.graph(
        "Consumers paused",
        "short",
        ("max by (service) (onestop_consumer_paused)", "{{service}}"),
    )
    board.row("Broker")
    board.number(
        "Memory alarm",
        "bool",
        ("max(rabbitmq_alarms_memory_used_watermark)", "memory"),
        description="1: RabbitMQ blocks every publisher.",
    )
    board.number("Disk alarm", "bool", ("max(rabbitmq_alarms_free_disk_space_watermark)", "disk"))
    board.number(
        "File descriptor alarm", "bool", ("max(rabbitmq_alarms_file_descriptor_limit)", "fds")
    )
    board.number("Connections", "short", ("sum(rabbitmq_connections)", "connections"))
    board.number("Consumers", "short", ("sum(rabbitmq_consumers)", "consumers"))
    board.number("Queues", "short", ("sum(rabbitmq_queues)", "queues"))
    board.graph(
        "Broker memory",
        "bytes",
        ("sum(rabbitmq_process_resident_memory_bytes)", "used"),
        ("sum(rabbitmq_resident_memory_limit_bytes)", "watermark"),
        span=24,
    )
    board.row("Business")
    board.graph(
        "Demands per day",
        "short",
        ("sum by (event) (increase(onestop_demands_total[1d]))", "{{event}}"),
    )
    board.number("Open demands", "short", ("sum(max by (status) (onestop_demands_open))", "open"))
    board.number("Overdue demands", "short", ("max(onestop_demands_overdue)", "overdue"))
    board.graph(
        "Breaches per day, by kind",
        "short",
        ("sum by (kind) (increase(onestop_breaches_total[1d]))", "{{kind}}"),
        description="Escalated by dispatch's sweep (unanswered, overdue …).",
    )
    board.graph(
        "Dispatch decisions per day, by outcome",
        "short",
        ("sum by (outcome) (increase(onestop_dispatch_decisions_total[1d]))", "{{outcome}}"),
    )
    board.graph(
        "Cap overrides per day",
        "short",
        (
            'sum(increase(onestop_dispatch_decisions_total{outcome="cap_override"}[1d]))',
            "overrides",
        ),
        description="Agencies ordered past their monthly cap.",
    )
    board.number("On time", "percentunit", ("max(onestop_demand_on_time_rate)", "on time"))
    board.number("Closed", "percentunit", ("max(onestop_demand_closure_rate)", "closed"))
    return board.build()


def dashboards() -> dict[str, dict[str, Any]]:
    """File name → dashboard JSON."""
    out = {"overview.json": overview()}
    out.update({f"{s}.json": service_dashboard(s) for s in SERVICES})
    return out


def render(board: dict[str, Any]) -> str:
    return json.dumps(board, indent=2, sort_keys=True, ensure_ascii=False) + "\n"


def write(directory: Path = OUT) -> list[Path]:
    """Write every dashboard, remove the JSON of ones no longer made."""
    directory.mkdir(parents=True, exist_ok=True)
    made = dashboards()
    for stale in directory.glob("*.json"):
        if stale.name not in made:
            stale.unlink()
    paths = []
    for name, board in made.items():
        path = directory / name
        path.write_text(render(board), encoding="utf-8")
        paths.append(path)
    return paths


def queries(board: dict[str, Any]) -> Iterator[tuple[str, str]]:
    """(panel title, PromQL) of every query of a dashboard."""
    for panel in board["panels"]:
        for target in panel.get("targets") or []:
            yield panel["title"], target["expr"]


def registered_metrics() -> set[str]:
    """The names the code exposes, as Prometheus scrapes them: every metric object of
    ``shared.metrics`` and of each ``services.<name>.metrics`` (whatever registry it is
    in), and whatever else the default registry holds."""
    from prometheus_client import REGISTRY
    from prometheus_client.metrics import MetricWrapperBase

    import services

    modules = [importlib.import_module("shared.metrics")]
    for package in pkgutil.iter_modules(services.__path__):
        try:
            modules.append(importlib.import_module(f"services.{package.name}.metrics"))
        except ModuleNotFoundError as e:
            if e.name != f"services.{package.name}.metrics":
                raise
    collectors: list[Any] = [REGISTRY]
    for module in modules:
        collectors += [v for v in vars(module).values() if isinstance(v, MetricWrapperBase)]
    suffixes = {"counter": ("_total",), "histogram": ("_bucket", "_sum", "_count")}
    return {
        family.name + suffix
        for collector in collectors
        for family in collector.collect()
        for suffix in suffixes.get(family.type, ("",))
    }


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    directory = Path(args[0]) if args else OUT
    for path in write(directory):
        print(path)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
