"""Running a service's consumers and outbox relay as a worker process."""

from __future__ import annotations

import logging
import signal
import threading
from collections.abc import Callable
from types import FrameType

import shared.contracts  # noqa: F401  (registers the event schemas)
from shared.logs import setup_logging
from shared.messaging import EventConsumer, Subscription
from shared.runtime import Service

log = logging.getLogger(__name__)


class WorkerThread:
    """A consumer on its own thread (the embedded shape runs one per service)."""

    def __init__(self, svc: Service, consumer: EventConsumer) -> None:
        self.svc = svc
        self.consumer = consumer
        self.thread = threading.Thread(target=consumer.run, name=f"worker-{svc.name}", daemon=True)

    def start(self) -> None:
        self.thread.start()

    def join(self, timeout: float = 10.0) -> None:
        self.thread.join(timeout)


def run_worker(
    svc: Service,
    subscriptions: Callable[[Service], list[Subscription]],
    on_start: Callable[[Service], None] | None = None,
) -> None:
    """Consume until SIGTERM/SIGINT, then finish the message in hand and drain the outbox."""
    setup_logging(svc.settings.log_level)
    if on_start is not None:
        on_start(svc)
    if svc.settings.metrics_port:
        from prometheus_client import start_http_server

        start_http_server(svc.settings.metrics_port)
    consumer = svc.consumer(subscriptions(svc))
    svc.relay.ensure_started()  # sweeps leftovers of the API processes too

    def _stop(signum: int, _frame: FrameType | None) -> None:
        log.info("signal %s: stopping %s worker", signum, svc.name)
        consumer.stop()

    signal.signal(signal.SIGTERM, _stop)
    signal.signal(signal.SIGINT, _stop)
    log.info("%s worker started", svc.name)
    consumer.run()
    svc.relay.drain(timeout=10)  # the broker outlives this process: publish what we can
    svc.relay.stop()
    log.info("%s worker stopped", svc.name)
