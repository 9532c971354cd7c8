"""Transactional outbox with its relay, and the inbox of processed events.

Every service database carries two infrastructure tables, added to the
service's metadata by ``add_outbox_tables``:

* ``outbox`` — events written in the same transaction as the state change. The relay
  publishes pending rows in ``seq`` order, a batch (up to ``batch`` rows) at a time:
  one statement claims the batch and marks it published in the relay's transaction
  (``UPDATE … RETURNING``), it sends the batch's messages back to back and waits
  once for the broker's confirms (``Publisher.publish_batch``), then commits — so a
  row is published, for everyone else, only once the broker confirmed it. When the
  broker nacks a message, the connection is lost or the confirms do not come, the
  rows from the first unconfirmed one on are unmarked before the commit: the
  confirmed ones stay published, that one and every later row of the batch stay
  pending for the next pass (some may reach the broker twice; consumers deduplicate
  through the inbox); a relay that dies before its commit leaves the whole batch
  pending. The relay is woken right after each commit (low latency) and also sweeps
  on a timer for anything left behind (a crash, a broker outage). Rows are claimed
  with ``FOR UPDATE SKIP LOCKED`` on PostgreSQL so that several relays (gunicorn
  workers, the worker process) never publish the same row concurrently.
* ``processed_events`` — the inbox: ``(consumer, event_id)`` recorded in the
  same transaction as the effect of handling the event, so a redelivered or
  replayed event is recognised and acknowledged without being applied again.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from functools import cache
from typing import Any, Protocol

from kombu import Exchange
from sqlalchemy import (
    BigInteger,
    Column,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
    bindparam,
    func,
    select,
    text,
    update,
)

from shared.db import Database, UnitOfWork, UtcDateTime, claim, insert_or_ignore
from shared.events import Event
from shared.faults import unavailable
from shared.logs import scope
from shared.messaging import Outgoing, Unconfirmed, exchange_for

# what a consumer's handlers of a transaction read once for its new events (into uow.memo)
Prepare = Callable[[UnitOfWork, Sequence[Event]], None]

log = logging.getLogger(__name__)


def add_outbox_tables(metadata: MetaData) -> tuple[Table, Table, Table]:
    """Add ``outbox``, ``processed_events`` and ``dead_letters`` to a service's metadata."""
    outbox = Table(
        "outbox",
        metadata,
        Column("seq", BigInteger().with_variant(Integer, "sqlite"), primary_key=True),
        Column("event_id", String(36), nullable=False, unique=True),
        Column("event_type", String(80), nullable=False),
        Column("event_version", Integer, nullable=False),
        Column("producer", String(40), nullable=False),
        Column("routing_key", String(200), nullable=False),
        Column("body", Text, nullable=False),
        Column("created_at", UtcDateTime(), nullable=False),
        Column("published_at", UtcDateTime(), nullable=True, index=True),
        Column("attempts", Integer, nullable=False, default=0),
    )
    inbox = Table(
        "processed_events",
        metadata,
        Column("consumer", String(100), primary_key=True),
        Column("event_id", String(36), primary_key=True),
        Column("event_type", String(80), nullable=False),
        Column("processed_at", UtcDateTime(), nullable=False),
    )
    # Every message this service's consumers dead-lettered, drained from the broker's
    # <queue>.dlq by the worker (shared.deadletters): one row per queue and body, so a
    # letter that fails again after a re-drive is the same row, dead again.
    dead_letters = Table(
        "dead_letters",
        metadata,
        Column("id", BigInteger().with_variant(Integer, "sqlite"), primary_key=True),
        Column("queue", String(100), nullable=False, index=True),
        Column("digest", String(64), nullable=False),
        Column("event_id", String(100), nullable=True),
        Column("event_type", String(80), nullable=True),
        Column("reason", Text, nullable=False),
        Column("attempts", Integer, nullable=False),
        Column("body", Text, nullable=False),
        Column("headers", Text, nullable=False, server_default="{}"),
        Column("failed_at", UtcDateTime(), nullable=False, index=True),
        Column("status", String(20), nullable=False, server_default="dead", index=True),
        Column("times", Integer, nullable=False, server_default="1"),
        Column("redriven_at", UtcDateTime(), nullable=True),
        Column("redriven_by", String(200), nullable=True),
        UniqueConstraint("queue", "digest", name="uq_dead_letters_queue_digest"),
    )
    return outbox, inbox, dead_letters


class Publisher(Protocol):
    def publish(
        self, exchange: Exchange, routing_key: str, body: str, headers: dict[str, Any]
    ) -> None:
        """Publish one message; return only once the broker confirmed it."""

    def publish_batch(self, messages: Sequence[Outgoing]) -> None:
        """Publish ``messages`` in order; return only once the broker confirmed every one,
        else raise (``shared.messaging.Unconfirmed`` says how many, from the first, were
        confirmed; any other exception means none is known to be)."""


class OutboxRelay:
    """Publishes a service's outbox; ``notify()`` wakes it, a timer sweeps."""

    def __init__(
        self,
        db: Database,
        outbox: Table,
        publisher_factory: Callable[[], Publisher],
        *,
        sweep_interval: float = 2.0,
        batch: int = 200,
        on_published: Callable[[str, str], None] | None = None,
        on_sweep: Callable[[int], None] | None = None,
        on_failure: Callable[[str], None] | None = None,
    ) -> None:
        self.db = db
        self.outbox = outbox
        self._publisher_factory = publisher_factory
        self._publisher: Publisher | None = None
        self.sweep_interval = sweep_interval
        self.batch = batch
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()
        self._publishing = threading.Lock()  # one batch at a time: the channel is not shared
        self._closed = False
        self._on_published = on_published
        self._on_sweep = on_sweep
        self._on_failure = on_failure  # a round that failed: "unavailable" or "error"
        # a round's statements, built once (values bound at execution)
        t = outbox
        self._pending_columns = (
            t.c.seq,
            t.c.event_id,
            t.c.event_type,
            t.c.event_version,
            t.c.producer,
            t.c.routing_key,
            t.c.body,
        )
        self._claim_pending: tuple[int, Any] | None = None  # (batch, its statement)
        self._unmark = (
            update(t)
            .where(t.c.seq.in_(bindparam("seqs", expanding=True)))
            .values(published_at=None)
        )

    # -- control -----------------------------------------------------------
    def notify(self) -> None:
        if self._closed:  # stopped for good: the rows wait for the next start's sweep
            return
        self.ensure_started()
        self._wake.set()

    def ensure_started(self) -> None:
        with self._lock:
            if self._thread is None or not self._thread.is_alive():
                self._stop.clear()
                self._thread = threading.Thread(
                    target=self._run,
                    name=f"outbox-relay-{self.db.url.rsplit('/', 1)[-1]}",
                    daemon=True,
                )
                self._thread.start()

    def stop(self, timeout: float = 10.0) -> None:
        self._closed = True
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout)
        self._thread = None
        self._close_publisher()

    def _run(self) -> None:
        while not self._stop.is_set():
            woken = self._wake.wait(self.sweep_interval)
            self._wake.clear()
            with scope():  # the relay's lines carry no request's or event's id
                self._round(woken)

    def _round(self, woken: bool) -> None:
        """Publish what is pending; after a sweep's wait, report the backlog."""
        try:
            while self.publish_pending() == self.batch and not self._stop.is_set():
                pass
            if not woken and self._on_sweep is not None:
                self._on_sweep(self.pending())  # the backlog, for the metrics
        except Exception as exc:  # broker or database down: the sweep tries again
            cause = "error" if unavailable(exc) is None else "unavailable"
            if cause == "error":
                log.exception("outbox relay could not publish; will retry")
            else:
                log.warning("outbox relay could not publish (%s); will retry", exc)
            if self._on_failure is not None:
                self._on_failure(cause)
            self._close_publisher()

    # -- work --------------------------------------------------------------
    def _close_publisher(self) -> None:
        pub, self._publisher = self._publisher, None
        close = getattr(pub, "close", None)
        if close is not None:
            try:
                close()
            except Exception:
                log.debug("closing publisher failed", exc_info=True)

    def pending(self) -> int:
        with self.db.reading() as s:
            return int(
                s.scalar(
                    select(func.count())
                    .select_from(self.outbox)
                    .where(self.outbox.c.published_at.is_(None))
                )
                or 0
            )

    def _claim_statement(self) -> Any:
        """The next ``batch`` unpublished rows (skipping those another relay holds),
        marked published at ``now`` and returned — in no particular order."""
        if self._claim_pending is None or self._claim_pending[0] != self.batch:
            t = self.outbox
            # a CTE taken whole before the update (MATERIALIZED): as a subquery of the
            # update, PostgreSQL may run the locking SELECT more than once and so claim
            # more than ``batch`` rows
            batch = (
                select(t.c.seq)
                .where(t.c.published_at.is_(None))
                .order_by(t.c.seq)
                .limit(self.batch)
                .with_for_update(skip_locked=True)
                .cte("batch")
                .prefix_with("MATERIALIZED")
            )
            stmt = (
                update(t)
                .where(t.c.seq.in_(select(batch.c.seq)))
                .values(published_at=bindparam("now"))
                .returning(*self._pending_columns)
            )
            self._claim_pending = (self.batch, stmt)
        return self._claim_pending[1]

    def publish_pending(self) -> int:
        """Publish up to ``batch`` pending rows; returns how many were published."""
        t = self.outbox
        with self._publishing, self.db.write_session() as s:
            now = datetime.now(UTC)
            rows = sorted(s.execute(self._claim_statement(), {"now": now}).all(), key=_seq)
            if not rows:  # ended with COMMIT: a ROLLBACK would drop the prepared statements
                s.commit()
                return 0
            if self._publisher is None:
                self._publisher = self._publisher_factory()
            exchanges = {p: exchange_for(p) for p in {row.producer for row in rows}}
            confirmed = 0
            try:
                self._publisher.publish_batch(
                    [
                        Outgoing(
                            exchanges[row.producer],
                            row.routing_key,
                            row.body,
                            {
                                "event_type": row.event_type,
                                "event_version": row.event_version,
                                "event_id": row.event_id,
                            },
                        )
                        for row in rows
                    ]
                )
                confirmed = len(rows)
            except Unconfirmed as exc:
                confirmed = exc.confirmed
                raise
            finally:
                if confirmed < len(rows):  # pending again from the first unconfirmed row,
                    s.execute(self._unmark, {"seqs": [r.seq for r in rows[confirmed:]]})
                    s.execute(  # which counts an attempt
                        update(t)
                        .where(t.c.seq == rows[confirmed].seq)
                        .values(attempts=t.c.attempts + 1)
                    )
                if self._on_published is not None:
                    for row in rows[:confirmed]:
                        self._on_published(row.producer, row.event_type)
                s.commit()
            return confirmed

    def drain(self, timeout: float = 30.0) -> bool:
        """Publish until nothing is pending (or ``timeout``); True when empty."""
        import time

        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                self.publish_pending()
            except Exception:
                log.warning("drain: publish failed", exc_info=True)
                self._close_publisher()
                time.sleep(0.5)
            if self.pending() == 0:
                return True
            time.sleep(0.05)
        return False


@cache
def _claim_all_statement(table: str) -> Any:
    """``Inbox._claim_all`` on PostgreSQL (every row of a batch has one consumer and one
    time)."""
    return text(
        f"INSERT INTO {table} (consumer, event_id, event_type, processed_at) "
        "SELECT :consumer, e.event_id, e.event_type, :processed_at "
        "FROM unnest(CAST(:ids AS varchar[]), CAST(:types AS varchar[])) "
        "AS e(event_id, event_type) ON CONFLICT DO NOTHING RETURNING event_id"
    )


def _seq(row: Any) -> int:
    return int(row.seq)


class Inbox:
    """Applies an event at most once per consumer (the processed-event table)."""

    def __init__(self, inbox: Table) -> None:
        self.table = inbox

    def apply(
        self,
        uow_factory: Callable[[], UnitOfWork],
        consumer: str,
        event: Event,
        handler: Callable[[Event, UnitOfWork], None],
        prepare: Prepare | None = None,
    ) -> bool:
        """Run ``handler`` (after ``prepare``, when given) and record the event in one
        transaction.

        Returns False when the event had already been processed (a duplicate).
        """
        with uow_factory() as uow:
            # Claim the event: one statement that inserts the processed-event row
            # unless it exists. On PostgreSQL a concurrent claim of the same
            # event waits for the first transaction and then finds the row.
            if not claim(
                uow.session,
                uow.db,
                self.table,
                consumer=consumer,
                event_id=event.event_id,
                event_type=event.event_type,
                processed_at=datetime.now(UTC),
            ):
                return False
            if prepare is not None:
                prepare(uow, [event])
            handler(event, uow)
            uow.commit()
        return True

    def apply_batch(
        self,
        uow_factory: Callable[[], UnitOfWork],
        consumer: str,
        events: Sequence[Event],
        handler: Callable[[Event, UnitOfWork], None],
        enter: Callable[[Event], None] = lambda event: None,
        prepare: Prepare | None = None,
    ) -> list[bool]:
        """Run ``handler`` for each of ``events`` in order, and record them, in one
        transaction: all of them or — when any handler raises — none (the exception
        propagates and the caller retries them one by one with ``apply``).
        ``prepare(uow, new_events)`` runs first, once: it reads what the handlers will
        need for all of the batch's new events at once (into ``uow.memo``).

        One multi-row claim answers which are new; an event already processed, or met
        earlier in the same batch, is a duplicate (False in the answer, in order)."""
        firsts: dict[str, Event] = {}  # the batch's events by id (a second copy once)
        for event in events:
            firsts.setdefault(event.event_id, event)
        with uow_factory() as uow:
            claimed = self._claim_all(uow, consumer, {i: e.event_type for i, e in firsts.items()})
            if prepare is not None and claimed:
                prepare(uow, [e for i, e in firsts.items() if i in claimed])
            applied = []
            for event in events:
                new = event.event_id in claimed
                claimed.discard(event.event_id)  # a second copy in the batch is a duplicate
                if new:
                    enter(event)
                    handler(event, uow)
                applied.append(new)
            uow.commit()
        return applied

    def _claim_all(self, uow: UnitOfWork, consumer: str, types: dict[str, str]) -> set[str]:
        """Record the events (``types``: their types by id) not claimed yet by
        ``consumer``; the ids recorded. On PostgreSQL one short statement over arrays
        (``unnest``): its text is the same for every batch, so psycopg caches its
        conversion and prepares it, where a multi-row ``VALUES`` list of a batch runs to
        thousands of characters that psycopg parses again every time. On SQLite an
        executemany (SQLAlchemy's insertmanyvalues)."""
        if not types:
            return set()
        now = datetime.now(UTC)
        if uow.db.is_postgres:
            values = {
                "consumer": consumer,
                "processed_at": now,
                "ids": list(types),
                "types": list(types.values()),
            }
            claim = _claim_all_statement(self.table.name)
            return set(uow.session.execute(claim, values).scalars())
        rows = [
            {"consumer": consumer, "event_id": i, "event_type": t, "processed_at": now}
            for i, t in types.items()
        ]
        stmt = insert_or_ignore(uow.db, self.table).returning(self.table.c.event_id)
        return set(uow.session.execute(stmt, rows).scalars())
