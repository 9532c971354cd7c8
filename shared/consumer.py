"""The consumer base: at-least-once delivery, applied once, transient is not poison.

A message that cannot be parsed, or whose handler still fails after ``max_attempts``
tries (with exponential backoff) on a healthy system, is published to the dead-letter
exchange with the reason in its ``x-onestop-*`` headers and then acknowledged, so the
queue keeps flowing. The service's worker drains its ``.dlq`` queues into its
``dead_letters`` table (acknowledging only after the commit), from where ``onestop dlq``
and the admin API re-drive them.

**Transient is not poison.** A failure of the infrastructure (``shared.faults``:
the database unreachable or restarting, a serialization failure or deadlock, a
broker error) uses up no attempt: the consumer puts the message back untouched
(republished to its queue, then acknowledged: ``_requeue``), stops taking messages
(``basic.cancel``), probes the dependency with capped exponential backoff while
keeping its connection alive, and resumes consuming once the probe passes — however
long that takes.

**Batches.** With ``batch`` above 1, the deliveries at hand (up to ``batch``: what the
broker has already sent within the prefetch window, and what it sends within ``linger``
seconds of the first) are applied per queue in one transaction with their inbox rows
(``Subscription.apply_batch``) and acknowledged after its commit. When the batch fails —
for whatever reason — nothing of it was applied, and its messages go through the
one-by-one path above, which tells a poison message from an outage: the failing one is
retried alone, the others are applied, and an outage pauses the consumer with every
message put back. A crash between the commit and the acknowledgements redelivers
messages that the inbox recognises.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any

from kombu.message import Message
from kombu.mixins import ConsumerMixin

from shared.events import Event, parse_event
from shared.faults import BROKER, DATABASE, unavailable
from shared.logs import acting, correlation_id, scope, service
from shared.messaging import (
    ATTEMPT_HEADER,
    DLX,
    KombuPublisher,
    Outcome,
    Subscription,
    attempt_of,
    body_text,
    connect,
    dead_letter_queue,
    declare_topology,
)

log = logging.getLogger(__name__)


DeadLetterSink = Callable[[str, str, dict[str, Any]], None]


class Pause:
    """The consumer's pause while a dependency is down: capped exponential backoff
    between probes (``first`` seconds, doubling up to ``cap``). The delay is reset only
    when a message has been handled after the resume, so a dependency that passes the
    probe but still fails the work is retried ever more slowly, not in a hot loop."""

    def __init__(self, first: float = 0.5, cap: float = 30.0) -> None:
        self.first = first
        self.cap = cap
        self.reason: str | None = None
        self.delay = first
        self.next_probe = 0.0
        self.since = 0.0

    @property
    def active(self) -> bool:
        return self.reason is not None

    def begin(self, reason: str, now: float) -> None:
        if self.reason is None:
            self.since = now
        self.reason = reason
        self.next_probe = now + self.delay

    def due(self, now: float) -> bool:
        return self.reason is not None and now >= self.next_probe

    def failed_probe(self, reason: str, now: float) -> None:
        self.reason = reason
        self.delay = min(self.delay * 2, self.cap)
        self.next_probe = now + self.delay

    def end(self) -> None:
        """The probe passed: consume again (the next pause waits longer)."""
        self.reason = None
        self.delay = min(self.delay * 2, self.cap)

    def healthy(self) -> None:
        """A message was handled: the dependency works again."""
        self.delay = self.first


class EventConsumer(ConsumerMixin):
    """Consumes a set of subscriptions with manual acks after the commit.

    The message is acknowledged only after ``apply`` returned (its transaction
    committed) or after it was handed to the retry path / the dead-letter queue
    with a confirmed publish, so a crash at any point leads to a redelivery that
    the inbox recognises — nothing is lost, nothing is applied twice.
    """

    def __init__(
        self,
        url: str,
        subscriptions: Sequence[Subscription],
        *,
        max_attempts: int = 5,
        retry_backoff: float = 0.2,
        prefetch: int = 20,
        batch: int = 1,
        linger: float = 0.0,
        heartbeat: int = 30,
        on_outcome: Callable[[str, str, str], None] | None = None,
        dead_letter_sink: DeadLetterSink | None = None,
        probe: Callable[[], str | None] | None = None,
        on_pause: Callable[[str | None], None] | None = None,
        pause: Pause | None = None,
    ) -> None:
        """``dead_letter_sink(queue, body, headers)`` keeps a dead letter (the service's
        database); when given, the ``.dlq`` queues are drained into it. ``probe()``
        answers None when the consumer's dependencies are healthy, else the problem."""
        self.url = url
        self.connection = connect(url, heartbeat)
        self.subscriptions = list(subscriptions)
        self.max_attempts = max_attempts
        self.retry_backoff = retry_backoff
        self.prefetch = prefetch
        self.batch = max(1, min(batch, prefetch))
        self.linger = max(0.0, linger) if self.batch > 1 else 0.0
        self._buffer: list[tuple[Subscription, Message]] = []  # deliveries not yet handled
        self._reading: Any = None  # the connection the consuming loop reads
        self._on_outcome = on_outcome
        self._sink = dead_letter_sink
        self._probe = probe
        self._on_pause = on_pause
        self.pause = pause or Pause()
        self._consumers: list[Any] = []
        self._sinks: dict[str, Any] = {}  # queue -> the consumer of its .dlq
        self.stalled: set[str] = set()  # .dlq consumers stopped by a letter we cannot keep
        self._depth = 0  # handle() calls in progress (nested during a basic.cancel)
        self._publisher: KombuPublisher | None = None
        self.connect_max_retries = None
        self.ready = False

    # kombu's ConsumerMixin hooks ------------------------------------------
    def get_consumers(self, consumer_cls: Any, channel: Any) -> list[Any]:
        declare_topology(channel, self.subscriptions)
        consumers = []
        for sub in self.subscriptions:
            c = consumer_cls(
                queues=[sub.kombu_queue()],
                # on_message gets the raw message: undecodable bodies reach our
                # dead-letter path instead of kombu's decode-error handler.
                on_message=self._callback(sub),
                accept=["json", "application/json"],
                prefetch_count=self.prefetch,
                no_ack=False,
            )
            consumers.append(c)
            if self._sink is not None and sub.queue not in self.stalled:
                sink = consumer_cls(
                    queues=[dead_letter_queue(sub.queue)],
                    on_message=self._sink_callback(sub),
                    accept=["json", "application/json"],
                    prefetch_count=self.prefetch,
                    no_ack=False,
                )
                self._sinks[sub.queue] = sink
                consumers.append(sink)
        return consumers

    def on_consume_ready(self, connection: Any, channel: Any, consumers: Any, **kw: Any) -> None:
        self._reading = connection  # kombu's loop reads a clone of self.connection
        self._consumers = list(consumers)
        self.ready = True
        if self.pause.active:  # reconnected while a dependency is still down
            self._cancel_consumers()
        log.info("consuming %s", ", ".join(s.queue for s in self.subscriptions))

    def on_connection_error(self, exc: Exception, interval: float) -> None:
        self.ready = False
        self._buffer.clear()  # their channel is gone: the broker redelivers them
        log.warning("broker connection error: %s; retrying in %ss", exc, interval)

    def on_connection_revived(self) -> None:
        self._reset_publisher()

    def on_iteration(self) -> None:
        """Between reads (at least once a second): handle what arrived outside the loop's
        own reads (while consumers were being set up or resumed); probe a paused
        dependency."""
        self.flush()
        if self.pause.due(time.monotonic()):
            self._try_resume()

    # pausing while a dependency is down ---------------------------------------
    def _outage(self, exc: BaseException) -> str | None:
        """The dependency whose outage ``exc`` is: as ``shared.faults`` classifies it, or
        — whatever the exception — the database when the probe finds it unreachable now.
        Only a failure on a healthy system counts as an attempt."""
        dependency = unavailable(exc)
        if dependency is None and self._probe is not None and self._probe() is not None:
            log.warning("%s while the database is unreachable: waiting", type(exc).__name__)
            dependency = DATABASE
        return dependency

    def _begin_pause(self, dependency: str, exc: BaseException) -> None:
        first = not self.pause.active
        self.pause.begin(f"{dependency}: {type(exc).__name__}", time.monotonic())
        if first:
            log.warning(
                "%s unavailable (%s: %s); pausing %s until it is back",
                dependency,
                type(exc).__name__,
                str(exc).strip()[:300],
                ", ".join(s.queue for s in self.subscriptions),
            )
            if self._on_pause is not None:
                self._on_pause(dependency)
            self._cancel_consumers()

    def _cancel_consumers(self) -> None:
        for c in self._consumers:
            try:
                c.cancel()
            except Exception:  # the connection is going: kombu reconnects, we stay paused
                log.debug("cancel failed", exc_info=True)

    def _try_resume(self) -> None:
        problem = self._probe() if self._probe is not None else None
        now = time.monotonic()
        if problem is not None:
            self.pause.failed_probe(problem, now)
            log.info("still paused (%s); next probe in %.1fs", problem[:200], self.pause.delay)
            return
        log.warning(
            "dependency back after %.1fs; resuming %s",
            now - self.pause.since,
            ", ".join(s.queue for s in self.subscriptions),
        )
        self.pause.end()
        if self._on_pause is not None:
            self._on_pause(None)
        for c in self._consumers:
            if self.pause.active:  # a delivery met the outage again while we resumed
                self._cancel_consumers()
                return
            if not any(c is self._sinks.get(q) for q in self.stalled):
                c.consume()

    # delivery ---------------------------------------------------------------
    def _callback(self, sub: Subscription) -> Callable[[Message], None]:
        def on_message(message: Message) -> None:
            if self.batch > 1 and not self.pause.active:
                self._buffer.append((sub, message))  # handled by flush() after the read
            else:  # one at a time, or paused (delivered before a cancel took effect)
                self.handle(sub, message)

        return on_message

    def consume(self, *args: Any, **kwargs: Any) -> Iterator[Any]:
        """kombu's loop, with the deliveries of each read handled before the next one."""
        for item in super().consume(*args, **kwargs):
            self.flush()
            yield item

    def flush(self) -> None:
        """Take what the broker has already sent or sends within ``linger`` seconds (up to
        ``batch``), then handle the buffered deliveries, a batch per queue. Deliveries
        left unhandled when this raises (the connection lost) are redelivered by the
        broker."""
        if not self._buffer or self._reading is None:
            return
        self._depth += 1
        try:
            until = time.monotonic() + self.linger
            while len(self._buffer) < self.batch:
                try:
                    self._reading.drain_events(timeout=max(0.0, until - time.monotonic()))
                except TimeoutError:  # nothing more at hand (socket.timeout)
                    break
            taken, self._buffer = self._buffer, []
            by_queue: dict[str, list[tuple[Subscription, Message]]] = {}
            for sub, message in taken:
                by_queue.setdefault(sub.queue, []).append((sub, message))
            for group in by_queue.values():
                self.handle_batch(group[0][0], [m for _, m in group])
        except BaseException:
            self._buffer.clear()
            raise
        finally:
            self._depth -= 1

    def handle_batch(self, sub: Subscription, messages: Sequence[Message]) -> list[str]:
        """Apply ``messages`` of ``sub``'s queue in one transaction and acknowledge them
        after its commit; when that fails, or cannot be tried, one by one (``handle``)."""
        with scope():
            return self._handle_batch(sub, messages)

    def _handle_batch(self, sub: Subscription, messages: Sequence[Message]) -> list[str]:
        applied = self._apply_batch(sub, messages)
        if applied is None:
            return [self.handle(sub, m) for m in messages]
        outcomes = []
        for message, (event_type, new) in zip(messages, applied, strict=True):
            if message.delivery_info.get("redelivered"):
                self._outcome(sub, event_type, Outcome.REDELIVERED)
            message.ack()
            outcome = Outcome.APPLIED if new else Outcome.DUPLICATE
            self._outcome(sub, event_type, outcome)
            outcomes.append(outcome)
        self.pause.healthy()
        return outcomes

    def _apply_batch(
        self, sub: Subscription, messages: Sequence[Message]
    ) -> list[tuple[str, bool]] | None:
        """(event type, applied) per message, all committed — or None, nothing applied."""
        if len(messages) < 2 or sub.apply_batch is None or self.pause.active:
            return None
        self._depth += 1
        try:
            events = [parse_event(m.body) for m in messages]
            applied = sub.apply_batch(events, lambda event: self._enter(sub, event))
        except Exception as exc:  # a poison message, a failing handler, an outage
            log.info(
                "a batch of %d on %s failed (%s: %s); applying them one by one",
                len(messages),
                sub.queue,
                type(exc).__name__,
                str(exc).strip()[:200],
            )
            return None
        finally:
            self._depth -= 1
        return [(e.event_type, new) for e, new in zip(events, applied, strict=True)]

    @staticmethod
    def _enter(sub: Subscription, event: Event) -> None:
        """The log context of ``event``'s handling (and of the events it emits), inside the
        ``scope`` of its delivery (``handle``, ``handle_batch``), which puts it back after."""
        name = sub.queue.split(".")[0]
        correlation_id.set(event.correlation_id)
        acting.set((f"service:{name}", event.actor))
        service.set(name)

    def _reset_publisher(self) -> None:
        if self._publisher is not None:
            self._publisher.close()
        self._publisher = None

    def _pub(self) -> KombuPublisher:
        if self._publisher is None:
            self._publisher = KombuPublisher(self.url)
        return self._publisher

    def _outcome(self, sub: Subscription, event_type: str, outcome: str) -> None:
        if self._on_outcome is not None:
            self._on_outcome(sub.queue, event_type, outcome)

    @property
    def busy(self) -> bool:
        """A message is being handled (the embedded runner waits for it to finish)."""
        return self._depth > 0 or bool(self._buffer)

    def _requeue(
        self, sub: Subscription, message: Message, event_type: str, queue: str | None = None
    ) -> str:
        """Put the message back on ``queue`` (the subscription's by default) untouched:
        same body, same headers, no attempt used — republished to the queue's tail and
        then acknowledged, not requeued. A quorum queue counts every requeue against its
        delivery limit (``shared.messaging.DELIVERY_LIMIT``) and would dead-letter a
        message that merely waited out a long or flapping outage; a republished message
        starts its count afresh. (kombu's in-process transport would requeue through the
        original exchange, copying a topic event into every bound queue: the same
        republish avoids that.) A crash between the publish and the ack leaves a
        duplicate, which the inbox recognises. When the publish itself fails (the broker
        is the trouble) the message is requeued after all: one delivery counted."""
        target = queue or sub.queue
        headers = {k: v for k, v in (message.headers or {}).items() if k != "x-delivery-count"}
        try:
            self._pub().publish_to_queue(target, message.body, headers)
        except Exception:
            if self.url.startswith("memory://"):
                raise
            log.warning("could not republish a message to %s; requeueing it", target)
            self._reset_publisher()
            message.requeue()
        else:
            message.ack()
        self._outcome(sub, event_type, Outcome.REQUEUED)
        return Outcome.REQUEUED

    def handle(self, sub: Subscription, message: Message) -> str:
        """Handle one delivery, in a log ``scope`` of its own: no id outlives it."""
        with scope():
            return self._deliver(sub, message)

    def _deliver(self, sub: Subscription, message: Message) -> str:
        self._depth += 1
        try:
            if self.pause.active:  # delivered before the cancel took effect
                return self._requeue(sub, message, "paused")
            return self._handle(sub, message)
        except Exception as exc:
            # the retry or dead-letter publish failed while our own connection is fine (a
            # nack, the publisher's connection): put the message back and wait
            own = (*self.connection.connection_errors, *self.connection.channel_errors)
            if isinstance(exc, own) or unavailable(exc) is None or message.acknowledged:
                raise
            self._begin_pause(BROKER, exc)
            return self._requeue(sub, message, "paused")
        finally:
            self._depth -= 1

    def _handle(self, sub: Subscription, message: Message) -> str:
        raw = message.body
        headers = dict(message.headers or {})
        event_type = str(headers.get("event_type", "unknown"))[:80]
        attempt = attempt_of(headers)
        if message.delivery_info.get("redelivered"):
            self._outcome(sub, event_type, Outcome.REDELIVERED)
        try:
            event = parse_event(raw)
        except Exception as exc:  # anything unparseable is poison, never a crash
            reason = f"invalid event: {getattr(exc, 'messages', None) or repr(exc)}"
            self._dead_letter(sub, message, reason, attempt)
            self._outcome(sub, event_type, Outcome.DEAD_LETTERED)
            return Outcome.DEAD_LETTERED
        self._enter(sub, event)
        try:
            applied = sub.apply(event)
        except Exception as exc:
            dependency = self._outage(exc)
            if dependency is not None:  # the infrastructure's failure, not the event's
                self._begin_pause(dependency, exc)
                return self._requeue(sub, message, event.event_type)
            if attempt >= self.max_attempts:
                log.error(
                    "giving up on %s after %d attempts", event.event_id, attempt, exc_info=True
                )
                self._dead_letter(sub, message, f"{type(exc).__name__}: {exc}", attempt)
                self._outcome(sub, event.event_type, Outcome.DEAD_LETTERED)
                return Outcome.DEAD_LETTERED
            log.warning("attempt %d of %s failed: %s", attempt, event.event_id, exc)
            time.sleep(self.retry_backoff * (2 ** (attempt - 1)))
            self._pub().publish_to_queue(sub.queue, raw, {**headers, ATTEMPT_HEADER: attempt + 1})
            message.ack()
            self._outcome(sub, event.event_type, Outcome.RETRIED)
            return Outcome.RETRIED
        message.ack()
        self.pause.healthy()
        outcome = Outcome.APPLIED if applied else Outcome.DUPLICATE
        self._outcome(sub, event.event_type, outcome)
        return outcome

    def _dead_letter(self, sub: Subscription, message: Message, reason: str, attempt: int) -> None:
        """Publish to ``<queue>.dlq`` with the reason (confirmed), then acknowledge."""
        headers = {
            **dict(message.headers or {}),
            "x-onestop-reason": reason[:2000],
            "x-onestop-queue": sub.queue,
            "x-onestop-attempts": attempt,
            "x-onestop-failed-at": datetime.now(UTC).isoformat(),
            "x-onestop-routing-key": message.delivery_info.get("routing_key", ""),
        }
        self._pub().publish(DLX, sub.queue, body_text(message.body), headers)
        message.ack()

    def _sink_callback(self, sub: Subscription) -> Callable[[Message], None]:
        def on_message(message: Message) -> None:
            self.record(sub, message)

        return on_message

    def record(self, sub: Subscription, message: Message) -> str:
        """Keep a message of ``<queue>.dlq`` in the service's database, then acknowledge
        it. While the database is down it stays on the broker with its headers; one the
        database refuses (a bug of ours) stops only that ``.dlq``'s consumer, loudly."""
        self._depth += 1
        try:
            dlq = dead_letter_queue(sub.queue).name
            if self.pause.active or sub.queue in self.stalled:
                return self._requeue(sub, message, "dead_letter", dlq)
            headers = dict(message.headers or {})
            assert self._sink is not None
            try:
                self._sink(sub.queue, body_text(message.body), headers)
            except Exception as exc:
                dependency = self._outage(exc)
                if dependency is not None:
                    self._begin_pause(dependency, exc)
                else:
                    log.exception(
                        "cannot keep a dead letter of %s; it stays on %s.dlq", *[sub.queue] * 2
                    )
                    self.stalled.add(sub.queue)
                    sink = self._sinks.get(sub.queue)
                    if sink is not None:
                        sink.cancel()
                return self._requeue(sub, message, "dead_letter", dlq)
            message.ack()
            self.pause.healthy()
            self._outcome(sub, str(headers.get("event_type", "unknown"))[:80], Outcome.RECORDED)
            return Outcome.RECORDED
        finally:
            self._depth -= 1

    def stop(self) -> None:
        """Stop consuming: after the message in hand — or, while the broker cannot be
        reached, within a second (kombu's reconnecting loop would otherwise retry for
        ever, past a SIGTERM)."""
        self.should_stop = True

    def run(self, _tokens: int = 1, **kwargs: Any) -> None:
        try:
            super().run(_tokens, **kwargs)
        except _Stopped:
            log.info("stopped while the broker was unreachable")

    @contextmanager
    def establish_connection(self) -> Iterator[Any]:
        """kombu's, with a check between its reconnection attempts (every second) that
        gives up once ``stop()`` was called."""
        with self.create_connection() as conn:
            conn.ensure_connection(
                self.on_connection_error, self.connect_max_retries, callback=self._still_wanted
            )
            yield conn

    def _still_wanted(self) -> None:
        if self.should_stop:
            raise _Stopped


class _Stopped(Exception):
    """``stop()`` was called while the consumer waited for the broker."""
