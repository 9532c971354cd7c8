"""Running a service's consumers and outbox relay as a worker process."""

from __future__ import annotations

import logging
import signal
import threading
import time
from collections.abc import Callable
from types import FrameType

import shared.contracts  # noqa: F401  (registers the event schemas)
from shared.config import Settings
from shared.consumer import EventConsumer
from shared.faults import unavailable
from shared.logs import scope, setup_logging
from shared.messaging import Subscription
from shared.runtime import Service

log = logging.getLogger(__name__)


def interval_of(job: Callable[[Service], object], settings: Settings) -> float:
    """Seconds between a periodic job's runs: ``settings.periodic_interval``, or the job's
    own ``every(settings)`` when it names one (intake's callback deliveries: every second)."""
    every = getattr(job, "every", None)
    return float(every(settings)) if callable(every) else settings.periodic_interval


class Periodic:
    """A service's periodic job (a deadline sweep, a month close) on its own thread.

    Jobs must be safe when several workers run them at once (claim rows in the
    database); a failing run is logged and tried again at the next interval.
    """

    def __init__(
        self, svc: Service, job: Callable[[Service], object], interval: float | None = None
    ) -> None:
        self.svc = svc
        self.job = job
        self.interval = interval_of(job, svc.settings) if interval is None else interval
        self._stop = threading.Event()
        self.thread = threading.Thread(
            target=self._loop, name=f"periodic-{svc.name}-{job.__name__}", daemon=True
        )

    def _loop(self) -> None:
        while not self._stop.wait(self.interval):
            try:
                with scope(svc=self.svc.name):
                    self.job(self.svc)
            except Exception as exc:
                dependency = unavailable(exc)
                if dependency is None:
                    log.exception("periodic job %s of %s failed", self.job.__name__, self.svc.name)
                else:  # an outage: the next interval tries again
                    log.warning("periodic job %s: %s unavailable", self.job.__name__, dependency)

    def start(self) -> None:
        self.thread.start()

    def stop(self) -> None:
        self._stop.set()
        self.thread.join(timeout=10)


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


def _when_available(svc: Service, step: Callable[[Service], None], cap: float = 30.0) -> None:
    """Run a start-up step, waiting out an outage of the database or the broker (capped
    backoff) instead of exiting: a worker started during an outage starts when it ends."""
    delay = 0.5
    while True:
        try:
            step(svc)
            return
        except Exception as exc:
            dependency = unavailable(exc)
            if dependency is None:
                raise
            log.warning("%s unavailable at start (%s); retrying in %.1fs", dependency, exc, delay)
            time.sleep(delay)
            delay = min(delay * 2, cap)


def run_worker(
    svc: Service,
    subscriptions: Callable[[Service], list[Subscription]],
    on_start: Callable[[Service], None] | None = None,
    periodic: Callable[[Service], object] | None = None,
    *,
    linger: float = 0.0,
) -> None:
    """Consume until SIGTERM/SIGINT, then finish the message in hand and drain the outbox.

    ``linger``: how long the consumer waits, once a delivery arrived, for more to fill
    its batch. Under a steady flow a batch of several events costs little more than one
    (one transaction, one relay round), so a worker off the path a person waits on
    trades that much freshness for far less CPU per event; 0 applies what is at hand at
    once. ``ONESTOP_CONSUMER_LINGER_MS`` overrides it."""
    setup_logging(svc.settings.log_level, svc.settings.log_format, svc.name)
    if on_start is not None:
        _when_available(svc, on_start)
    if svc.settings.metrics_port:
        from prometheus_client import start_http_server

        # this process's registry: only this service's consumers, relay and jobs
        start_http_server(svc.settings.metrics_port, svc.settings.metrics_addr)
        log.info("metrics on %s:%d", svc.settings.metrics_addr, svc.settings.metrics_port)
    consumer = svc.consumer(subscriptions(svc), linger=linger)
    svc.relay.ensure_started()  # sweeps leftovers of the API processes too
    job = Periodic(svc, periodic) if periodic else None
    if job is not None:
        job.start()

    def _stop(signum: int, _frame: FrameType | None) -> None:
        log.info("signal %s: stopping %s worker", signum, svc.name)
        consumer.stop()

    signal.signal(signal.SIGTERM, _stop)
    signal.signal(signal.SIGINT, _stop)
    log.info("%s worker started", svc.name)
    consumer.run()
    if job is not None:
        job.stop()
    svc.relay.drain(timeout=10)  # the broker outlives this process: publish what we can
    svc.relay.stop()
    log.info("%s worker stopped", svc.name)
