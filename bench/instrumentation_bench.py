"""What the instrumentation costs: a log line in text and in JSON, and a scrape of the whole
embedded registry against one service's part of it (``ServiceView``), side by side in one run.

    .venv/bin/python -m bench.instrumentation_bench

CPU figures on a shared machine are noisy: read the ratios, not the absolute values.
"""

from __future__ import annotations

import io
import json
import logging
import time
from collections.abc import Callable

from shared import metrics
from shared.config import SERVICES
from shared.logs import CorrelationFilter, formatter, scope

LINES = 20_000
SCRAPES = 200
ENDPOINTS = 40  # per service: about what the biggest service has


def per_call(fn: Callable[[], object], n: int) -> float:
    started = time.perf_counter()
    for _ in range(n):
        fn()
    return (time.perf_counter() - started) / n


def log_line(fmt: str) -> float:
    out = io.StringIO()
    handler = logging.StreamHandler(out)
    handler.addFilter(CorrelationFilter())
    handler.setFormatter(formatter(fmt))
    logger = logging.getLogger(f"bench.{fmt}")
    logger.handlers = [handler]
    logger.propagate = False
    logger.setLevel(logging.INFO)
    with scope("0f1e2d3c4b5a69788796a5b4c3d2e1f0", ("osk_bench", None), "intake"):
        return per_call(lambda: logger.info("demand %s accepted in %s", "D-1", "630102"), LINES)


def scrape(service: str | None) -> float:
    return per_call(lambda: metrics.render(None, service), SCRAPES)


def main() -> None:
    import services.archive.metrics
    import services.dispatch.metrics
    import services.intake.metrics
    import services.visits.metrics  # noqa: F401  (their families, as in `onestop run`)

    for svc in SERVICES:
        for i in range(ENDPOINTS):
            metrics.HTTP_REQUESTS.labels(svc, "GET", f"/api/v1/thing{i}", "200").inc()
            metrics.HTTP_LATENCY.labels(svc, f"/api/v1/thing{i}").observe(0.01)
            metrics.EVENTS_CONSUMED.labels(f"{svc}.on_thing{i % 8}", "x.y", "applied").inc()
    report = {
        "log_line_us": {fmt: round(log_line(fmt) * 1e6, 1) for fmt in ("text", "json")},
        "scrape_ms": {
            "whole_process": round(scrape(None) * 1e3, 2),
            "one_service_view": round(scrape("intake") * 1e3, 2),
        },
        "scrape_bytes": {
            "whole_process": len(metrics.render(None)[0]),
            "one_service_view": len(metrics.render(None, "intake")[0]),
        },
    }
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
