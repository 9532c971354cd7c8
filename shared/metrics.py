"""Prometheus metrics behind a small interface.

Under gunicorn set ``PROMETHEUS_MULTIPROC_DIR`` (a writable, emptied directory)
and every worker's samples are aggregated by ``/metrics``; in the embedded
shape the process registry is used directly.
"""

from __future__ import annotations

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    REGISTRY,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
)

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


def published(producer: str, event_type: str) -> None:
    EVENTS_PUBLISHED.labels(producer, event_type).inc()


def consumed(queue: str, event_type: str, outcome: str) -> None:
    EVENTS_CONSUMED.labels(queue, event_type, outcome).inc()


def render(multiproc_dir: str | None) -> tuple[bytes, str]:
    """The exposition text for ``/metrics`` (aggregated across processes)."""
    if multiproc_dir:
        from prometheus_client import multiprocess

        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)
        return generate_latest(registry), CONTENT_TYPE_LATEST
    return generate_latest(REGISTRY), CONTENT_TYPE_LATEST
