"""Prometheus metrics behind a small interface.

Under gunicorn set ``PROMETHEUS_MULTIPROC_DIR`` (a writable, emptied directory)
and every worker's samples are aggregated by ``/metrics``; a worker process
serves its own registry on ``ONESTOP_METRICS_PORT``. Each of those processes
runs one service, so it shows everything it has.

In the embedded shape every service shares one process and its one registry, so
``/<svc>/metrics`` shows that service's part of it (``ServiceView``): the samples of
the platform's shared metrics labelled with the service (``service``, ``producer``,
or a consumer ``queue`` named ``<service>.…``) and the metrics its own module
declared with ``belong``. What belongs to no service (the process's CPU, memory,
garbage collector) is shown by the console's ``/metrics``, the process's root.
"""

from __future__ import annotations

from collections.abc import Iterator

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    REGISTRY,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
)
from prometheus_client.metrics import MetricWrapperBase
from prometheus_client.metrics_core import Metric
from prometheus_client.registry import Collector
from prometheus_client.samples import Sample

HTTP_REQUESTS = Counter(
    "onestop_http_requests_total",
    "HTTP requests answered",
    ["service", "method", "endpoint", "status"],
)
HTTP_LATENCY = Histogram(
    "onestop_http_request_duration_seconds",
    "HTTP request latency",
    ["service", "endpoint"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5),
)
EVENTS_PUBLISHED = Counter(
    "onestop_events_published_total",
    "Events published from an outbox and confirmed by the broker",
    ["producer", "event_type"],
)
EVENTS_CONSUMED = Counter(
    "onestop_events_consumed_total",
    "Deliveries handled by consumers, by outcome (applied, duplicate, retried, dead_lettered,"
    " requeued while a dependency is down, recorded dead letters);"
    " outcome=redelivered counts deliveries the broker marked as redelivered, on arrival",
    ["queue", "event_type", "outcome"],
)
OUTBOX_PENDING = Gauge(
    "onestop_outbox_pending",
    "Outbox rows not yet confirmed by the broker",
    ["service"],
    multiprocess_mode="max",
)
RELAY_FAILURES = Counter(
    "onestop_relay_failures_total",
    "Outbox relay rounds that could not publish, by cause (unavailable: the broker or the"
    " database is down; error: anything else); the rows wait in the outbox and the relay"
    " tries again",
    ["service", "cause"],
)
CONSUMER_PAUSED = Gauge(
    "onestop_consumer_paused",
    "1 while a service's consumer waits for its database to come back (no attempt is used)",
    ["service"],
    multiprocess_mode="max",
)
DEAD_LETTERS = Gauge(
    "onestop_dead_letters",
    "Dead letters kept in a service's database and not re-driven",
    ["service"],
    multiprocess_mode="max",
)


def _names(metric: MetricWrapperBase) -> list[str]:
    return [family.name for family in metric.describe()]


# The label naming the service in each of the shared metrics above: a consumer's
# queue is named ``<service>.<handler>`` (``dispatch.on_demand_accepted``).
SERVICE_LABEL: dict[str, str] = {
    name: label
    for metric, label in (
        (HTTP_REQUESTS, "service"),
        (HTTP_LATENCY, "service"),
        (EVENTS_PUBLISHED, "producer"),
        (EVENTS_CONSUMED, "queue"),
        (OUTBOX_PENDING, "service"),
        (RELAY_FAILURES, "service"),
        (CONSUMER_PAUSED, "service"),
        (DEAD_LETTERS, "service"),
    )
    for name in _names(metric)
}
# A service's own metrics (its business counters and gauges): family name -> service.
OWNER: dict[str, str] = {}


def belong(service: str, *owned: MetricWrapperBase) -> None:
    """Declare ``owned`` as ``service``'s metrics (its ``/metrics`` in the embedded shape)."""
    for metric in owned:
        for name in _names(metric):
            OWNER[name] = service


def _service_of(label: str, value: str) -> str:
    return value.split(".", 1)[0] if label == "queue" else value


class ServiceView(Collector):
    """One service's part of a shared registry; with ``unowned``, also the families
    that belong to no service (the process collector, the garbage collector)."""

    def __init__(
        self, service: str, *, unowned: bool = False, source: CollectorRegistry = REGISTRY
    ) -> None:
        self.service = service
        self.unowned = unowned
        self.source = source

    def collect(self) -> Iterator[Metric]:
        for family in self.source.collect():
            label = SERVICE_LABEL.get(family.name)
            if label is not None:
                mine = Metric(family.name, family.documentation, family.type, family.unit)
                mine.samples = [s for s in family.samples if self._mine(s, label)]
                yield mine
                continue
            owner = OWNER.get(family.name)
            if owner == self.service or (owner is None and self.unowned):
                yield family

    def _mine(self, sample: Sample, label: str) -> bool:
        return _service_of(label, sample.labels.get(label, "")) == self.service


def published(producer: str, event_type: str) -> None:
    EVENTS_PUBLISHED.labels(producer, event_type).inc()


def consumed(queue: str, event_type: str, outcome: str) -> None:
    EVENTS_CONSUMED.labels(queue, event_type, outcome).inc()


def render(
    multiproc_dir: str | None, service: str | None = None, *, unowned: bool = False
) -> tuple[bytes, str]:
    """The exposition text for ``/metrics``: aggregated across the processes of a
    gunicorn service (``multiproc_dir``); else ``service``'s part of this process's
    registry (``ServiceView``), or all of it without a ``service``."""
    if multiproc_dir:
        from prometheus_client import multiprocess

        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)
        return generate_latest(registry), CONTENT_TYPE_LATEST
    if service is None:
        return generate_latest(REGISTRY), CONTENT_TYPE_LATEST
    view = CollectorRegistry(auto_describe=False)
    view.register(ServiceView(service, unowned=unowned))
    return generate_latest(view), CONTENT_TYPE_LATEST
