"""One service's part of a shared registry (the embedded shape's ``/<svc>/metrics``)."""

from __future__ import annotations

import pytest
from prometheus_client import CollectorRegistry, Counter, Gauge, generate_latest

from shared import metrics
from shared.metrics import ServiceView, belong


@pytest.fixture
def registry(monkeypatch: pytest.MonkeyPatch) -> CollectorRegistry:
    """A registry holding the platform's shared metrics' families and two services' own,
    with samples of intake and dispatch in each."""
    monkeypatch.setattr(metrics, "OWNER", {})
    reg = CollectorRegistry()
    http = Counter(
        "onestop_http_requests", "x", ["service", "method", "endpoint", "status"], registry=reg
    )
    published = Counter("onestop_events_published", "x", ["producer", "event_type"], registry=reg)
    consumed = Counter(
        "onestop_events_consumed", "x", ["queue", "event_type", "outcome"], registry=reg
    )
    pending = Gauge("onestop_outbox_pending", "x", ["service"], registry=reg)
    demands = Counter("onestop_demands", "x", ["event"], registry=reg)
    decisions = Counter("onestop_dispatch_decisions", "x", ["outcome"], registry=reg)
    Gauge("process_thing", "belongs to no service", registry=reg).set(1)
    belong("intake", demands)
    belong("dispatch", decisions)
    for svc in ("intake", "dispatch"):
        http.labels(svc, "GET", "/healthz", "200").inc()
        published.labels(svc, f"{svc}.happened").inc()
        consumed.labels(f"{svc}.on_directory", "unit.created", "applied").inc()
        pending.labels(svc).set(3)
    demands.labels("accepted").inc()
    decisions.labels("ordered").inc()
    return reg


def view(registry: CollectorRegistry, service: str, *, unowned: bool = False) -> str:
    out = CollectorRegistry(auto_describe=False)
    out.register(ServiceView(service, unowned=unowned, source=registry))
    return generate_latest(out).decode()


def sample_lines(text: str) -> list[str]:
    return [line for line in text.splitlines() if line and not line.startswith("#")]


def test_a_service_sees_its_own_samples_and_none_of_another_s(registry):
    intake = view(registry, "intake")
    assert 'onestop_http_requests_total{endpoint="/healthz",method="GET",service="intake"' in intake
    assert 'onestop_events_published_total{event_type="intake.happened",producer="intake"}' in (
        intake
    )
    assert 'queue="intake.on_directory"' in intake
    assert 'onestop_outbox_pending{service="intake"} 3.0' in intake
    assert 'onestop_demands_total{event="accepted"} 1.0' in intake
    assert "dispatch" not in "\n".join(sample_lines(intake))
    assert "onestop_dispatch_decisions" not in intake  # not even its help line
    dispatch = view(registry, "dispatch")
    assert 'onestop_dispatch_decisions_total{outcome="ordered"} 1.0' in dispatch
    assert 'queue="dispatch.on_directory"' in dispatch
    assert "intake" not in "\n".join(sample_lines(dispatch))
    assert "onestop_demands" not in dispatch


def test_what_belongs_to_no_service_is_shown_only_where_asked(registry):
    assert "process_thing" not in view(registry, "intake")
    console = view(registry, "console", unowned=True)
    assert "process_thing 1.0" in console
    assert "onestop_demands" not in console and 'service="intake"' not in console


def test_the_platform_s_shared_metrics_all_name_their_service():
    assert set(metrics.SERVICE_LABEL) == {
        "onestop_http_requests",
        "onestop_http_request_duration_seconds",
        "onestop_events_published",
        "onestop_events_consumed",
        "onestop_outbox_pending",
        "onestop_relay_failures",
        "onestop_consumer_paused",
        "onestop_dead_letters",
    }


def test_every_service_metric_is_declared_as_its_own():
    import services.archive.metrics
    import services.dispatch.metrics
    import services.intake.metrics
    import services.visits.metrics

    for name, module in (
        ("archive", services.archive.metrics),
        ("dispatch", services.dispatch.metrics),
        ("intake", services.intake.metrics),
        ("visits", services.visits.metrics),
    ):
        declared = [
            f.name
            for value in vars(module).values()
            if isinstance(value, (Counter, Gauge))
            for f in value.describe()
        ]
        assert declared
        assert {metrics.OWNER.get(n) for n in declared} == {name}, name


def test_without_a_service_the_whole_registry_is_rendered():
    text, ctype = metrics.render(None)
    assert "onestop_http_requests" in text.decode() and ctype.startswith("text/plain")
