"""``bootstrap()``: wires one service's dependencies (cosmicpython style).

Nothing here does I/O at construction: engines and broker connections are
opened on first use, so importing and building is always safe.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import MetaData, Table, text

from shared import deadletters, metrics
from shared.config import Settings, load_settings
from shared.consumer import EventConsumer
from shared.db import Database, UnitOfWork
from shared.directory import DIRECTORY_EVENTS, LocalDirectory, apply
from shared.events import Event
from shared.messaging import KombuPublisher, Subscription, connect
from shared.outbox import Inbox, OutboxRelay, Prepare

log = logging.getLogger(__name__)

EventHandler = Callable[[Event, UnitOfWork], None]


@dataclass
class Service:
    name: str
    settings: Settings
    db: Database
    outbox: Table
    inbox: Inbox
    relay: OutboxRelay
    directory: LocalDirectory
    accepting: threading.Event = field(default_factory=threading.Event)

    def uow(self) -> UnitOfWork:
        return UnitOfWork(
            self.db, self.outbox, on_commit=self.relay.notify, directory=self.directory
        )

    def subscription(
        self,
        handler_name: str,
        bindings: Sequence[tuple[str, str]],
        handler: EventHandler,
        prepare: Prepare | None = None,
    ) -> Subscription:
        """A durable queue ``<service>.<handler_name>`` applying ``handler`` once per event
        (``prepare``: what its handlers read for a transaction's events at once)."""
        consumer = f"{self.name}.{handler_name}"

        def apply(event: Event) -> bool:
            return self.inbox.apply(self.uow, consumer, event, handler, prepare)

        def apply_batch(events: Sequence[Event], enter: Callable[[Event], None]) -> list[bool]:
            return self.inbox.apply_batch(self.uow, consumer, events, handler, enter, prepare)

        return Subscription(
            queue=consumer, bindings=list(bindings), apply=apply, apply_batch=apply_batch
        )

    def on(
        self,
        producer: str,
        event_type: str,
        handler: EventHandler,
        prepare: Prepare | None = None,
    ) -> Subscription:
        """Consume ``event_type`` from ``producer``, every jurisdiction, into
        the queue ``<service>.on_<event_type>``."""
        name = "on_" + event_type.replace(".", "_")
        return self.subscription(name, [(producer, f"{event_type}.#")], handler, prepare)

    def consumer(
        self,
        subscriptions: Sequence[Subscription],
        *,
        drain_dead_letters: bool = True,
        linger: float = 0.0,
    ) -> EventConsumer:
        """The service's consumer: pauses while its database is down, and (by default)
        drains its ``.dlq`` queues into the ``dead_letters`` table. It waits up to
        ``linger`` seconds for a batch to fill (``ONESTOP_CONSUMER_LINGER_MS`` overrides)."""
        s = self.settings
        return EventConsumer(
            s.broker_url,
            subscriptions,
            max_attempts=s.max_attempts,
            retry_backoff=s.retry_backoff,
            prefetch=s.prefetch,
            batch=s.consumer_batch,
            linger=linger if s.consumer_linger is None else s.consumer_linger,
            heartbeat=s.heartbeat,
            on_outcome=metrics.consumed,
            dead_letter_sink=self.record_dead_letter if drain_dead_letters else None,
            probe=self.check_database,
            on_pause=lambda dependency: metrics.CONSUMER_PAUSED.labels(self.name).set(
                1 if dependency else 0
            ),
        )

    def record_dead_letter(self, queue: str, body: str, headers: dict[str, Any]) -> None:
        """Keep a dead letter in this service's database (raises while it is down)."""
        deadletters.record(self.db, self.metadata_table("dead_letters"), queue, body, headers)

    def redrive(self, queue: str, actor: str, ids: list[int] | None = None) -> dict[str, Any]:
        """Put this service's dead letters of ``queue`` back on it (see shared.deadletters)."""
        publisher = KombuPublisher(self.settings.broker_url)
        try:
            return deadletters.redrive(
                self.uow,
                self.metadata_table("dead_letters"),
                publisher,
                service=self.name,
                queue=queue,
                actor=actor,
                ids=ids,
            )
        finally:
            publisher.close()

    def directory_copy(self) -> Subscription:
        """The queue ``<service>.on_directory``: this service's copy of the unit tree and
        the API keys (``shared.directory``), from the directory's events."""
        return self.subscription(
            "on_directory", [("directory", key) for key in DIRECTORY_EVENTS], apply
        )

    def metadata_table(self, name: str) -> Table:
        return self.db.metadata.tables[name]

    def check_database(self) -> str | None:
        try:
            with self.db.engine.connect() as conn:
                conn.execute(text("SELECT 1"))
            return None
        except Exception as exc:
            return f"{type(exc).__name__}: {exc}"[:300]

    def check_broker(self) -> str | None:
        if self.settings.embedded:
            return None
        try:
            with connect(self.settings.broker_url) as conn:
                conn.ensure_connection(max_retries=1, timeout=2)
            return None
        except Exception as exc:
            return f"{type(exc).__name__}: {exc}"[:300]


def bootstrap(name: str, metadata: MetaData, settings: Settings | None = None) -> Service:
    settings = settings or load_settings()
    db = Database(settings.database_url(name), metadata)
    outbox = metadata.tables["outbox"]
    inbox = Inbox(metadata.tables["processed_events"])
    relay = OutboxRelay(
        db,
        outbox,
        lambda: KombuPublisher(settings.broker_url),
        sweep_interval=settings.sweep_interval,
        on_published=metrics.published,
        on_sweep=metrics.OUTBOX_PENDING.labels(name).set,
        on_failure=lambda cause: metrics.RELAY_FAILURES.labels(name, cause).inc(),
    )
    for cause in ("unavailable", "error"):  # born at 0: the first failure is an increase
        metrics.RELAY_FAILURES.labels(name, cause)
    directory = LocalDirectory(db, cache_seconds=settings.credential_cache)
    svc = Service(name, settings, db, outbox, inbox, relay, directory)
    svc.accepting.set()
    return svc
