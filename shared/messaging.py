"""kombu topology and the confirming publisher (the consumer is ``shared.consumer``).

Topology (the same on RabbitMQ and on kombu's in-process ``memory://``):

* one durable **topic exchange per producing service**: ``onestop.<producer>``;
* routing keys ``<event_type>.<province>.<city>.<county>`` (see
  ``shared.events.routing_key``), so a city binds only its subtree with
  ``demand.accepted.630000.630100.#``;
* one durable **queue per consuming handler**: ``<service>.<handler>``;
* a direct **dead-letter exchange** ``onestop.dlx`` and one ``<queue>.dlq`` per
  queue, where ``shared.consumer`` puts what it cannot apply.

On RabbitMQ every one of these durable queues is a **quorum queue** (replicated on
the cluster's nodes, RabbitMQ 3.8+; ``quorum_arguments``); exclusive and auto-delete
queues (probes, replies) stay classic. The in-process transport ignores queue
arguments.
"""

from __future__ import annotations

import json
import logging
import socket
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from typing import Any

import amqp
from amqp import spec
from amqp.exceptions import MessageNacked
from kombu import Connection, Exchange, Producer, Queue
from kombu.transport.virtual.exchange import TopicExchange

from shared.events import Event

log = logging.getLogger(__name__)

DLX = Exchange("onestop.dlx", type="direct", durable=True)


def exchange_for(producer: str) -> Exchange:
    return Exchange(f"onestop.{producer}", type="topic", durable=True)


# The broker's own poison guard on a consumer queue, beside ours (``shared.consumer``:
# ONESTOP_MAX_ATTEMPTS tries, then our dead letter with the reason). Our retries never
# reach it: a retry is a fresh message published to the queue (its delivery count starts
# at 0), and a message put back while a dependency is down is republished too, not
# requeued, so a long outage spends none of it. What it counts is a message returned to
# the queue without our say — its consumer's connection lost or the worker killed while
# holding it, every time it is delivered (a message that crashes the process) — so it
# stays well above our attempts (5 by default) and above the redeliveries a few worker
# restarts and node failovers cause; 20 is also RabbitMQ 4's default. The queue type
# and its arguments cannot change on a declared queue: changing one means
# ``onestop topology migrate`` (``onestop.queues``).
DELIVERY_LIMIT = 20


def quorum_arguments(dead_letter_routing_key: str | None = None) -> dict[str, Any]:
    """The arguments of a durable queue of ours: a quorum queue; with a routing key, one
    whose messages the broker dead-letters to ``onestop.dlx`` — **at least once** (3.10+:
    the source queue keeps a message until the dead-letter queue confirms it, which
    needs ``reject-publish`` overflow; no length limit is set, so nothing is refused),
    not quorum queues' default at-most-once — after ``DELIVERY_LIMIT`` returns.

    A ``.dlq`` (no routing key) has no delivery limit: nothing would take what it
    dropped (3.10 has no default limit; on RabbitMQ 4 the default 20 applies there, and
    our ``.dlq`` consumer republishes instead of requeueing for the same reason)."""
    if dead_letter_routing_key is None:
        return {"x-queue-type": "quorum"}
    return {
        "x-queue-type": "quorum",
        "x-dead-letter-exchange": DLX.name,
        "x-dead-letter-routing-key": dead_letter_routing_key,
        "x-dead-letter-strategy": "at-least-once",
        "x-overflow": "reject-publish",
        "x-delivery-limit": DELIVERY_LIMIT,
    }


def dead_letter_queue(queue_name: str) -> Queue:
    return Queue(
        f"{queue_name}.dlq",
        exchange=DLX,
        routing_key=queue_name,
        durable=True,
        queue_arguments=quorum_arguments(),
    )


def connect(url: str, heartbeat: int = 30) -> Connection:
    """A kombu connection; RabbitMQ ones ask for publisher confirms."""
    if url.startswith("memory://"):
        # The in-process transport polls; keep its latency well under a second.
        return Connection(url, transport_options={"polling_interval": 0.01})
    return Connection(
        url,
        heartbeat=heartbeat,
        transport_options={"confirm_publish": True},
        connect_timeout=5,
    )


@dataclass(frozen=True)
class Outgoing:
    """One message for ``KombuPublisher.publish_batch``: where it goes and what it says."""

    exchange: Exchange
    routing_key: str
    body: str
    headers: dict[str, Any]


class Unconfirmed(Exception):
    """A batch publish stopped short: the broker confirmed its first ``confirmed``
    messages (in order); nothing is known of the rest. Raised ``from`` the cause (a
    nack, a lost connection, a timeout), so ``shared.faults.unavailable`` still names
    the broker."""

    def __init__(self, confirmed: int, reason: str = "") -> None:
        super().__init__(f"{confirmed} confirmed before the batch failed: {reason}")
        self.confirmed = confirmed


# How long a batch waits for the broker's confirms (each frame read) before giving up:
# the rows stay pending and the relay tries again on a fresh connection.
CONFIRM_TIMEOUT = 30.0


class KombuPublisher:
    """Publishes persistent JSON messages and waits for the broker's confirm.

    On RabbitMQ ``confirm_publish`` makes ``basic_publish`` block until the
    broker acks (a nack or a lost connection raises); the in-process transport
    stores the message synchronously, which is its confirm. A publisher sits
    idle between bursts, so it negotiates no heartbeat (nobody would service
    it); a connection found dead on use is re-opened and the publish tried once
    more — a duplicate from that is harmless, consumers being idempotent.

    ``publish_batch`` sends many messages and waits for their confirms once: on
    RabbitMQ it publishes them back to back on a channel of its own in confirm
    mode (without ``confirm_publish``'s wait after each; the socket corked so the
    batch leaves in full segments) and then reads the broker's acks and nacks,
    which name delivery tags (1, 2, … on that channel) one at a time or
    ``multiple`` up to a tag. Messages are published as before: not mandatory (an
    unroutable one is dropped by the broker and confirmed). The in-process
    transport publishes them one by one, each stored as it is sent.
    """

    def __init__(self, url: str) -> None:
        self.url = url
        self._open()

    def _open(self) -> None:
        self.conn = connect(self.url, heartbeat=0)
        self.channel = self.conn.channel()
        self._declared: dict[str, Exchange] = {}  # by name, declared and bound to channel
        self._confirms: Any = None  # the batch channel, opened on first use
        self._tag = 0  # the delivery tag of the last message published on it

    def _bind(self, exchange: Exchange) -> Exchange:
        bound = self._declared.get(exchange.name)
        if bound is None:
            bound = exchange(self.channel)
            bound.declare()
            self._declared[exchange.name] = bound
        return bound

    def _errors(self) -> tuple[type[BaseException], ...]:
        return (*self.conn.connection_errors, *self.conn.channel_errors)

    def _twice(self, send: Callable[[], None]) -> None:
        try:
            send()
        except self._errors():
            log.info("publisher connection lost; reconnecting once")
            self.close()
            self._open()
            send()

    def _send(self, m: Outgoing) -> None:
        ex = self._bind(m.exchange)
        ex.publish(self._message(ex, m), routing_key=m.routing_key)

    @staticmethod
    def _message(bound: Exchange, m: Outgoing) -> Any:
        return bound.Message(
            m.body,
            content_type="application/json",
            content_encoding="utf-8",
            delivery_mode=2,
            headers=m.headers,
            properties={"message_id": m.headers.get("event_id", "")},
        )

    def publish(
        self,
        exchange: Exchange,
        routing_key: str,
        body: str,
        headers: dict[str, Any],
    ) -> None:
        self._twice(lambda: self._send(Outgoing(exchange, routing_key, body, headers)))

    def publish_batch(self, messages: Sequence[Outgoing]) -> None:
        """Publish ``messages`` in order; return once the broker confirmed every one.

        Otherwise raise ``Unconfirmed`` saying how many, from the first, were
        confirmed. A connection found dead is re-opened and the whole batch sent
        once more (duplicates are harmless: consumers deduplicate)."""
        if not messages:
            return
        try:
            self._send_batch(messages)
        except Unconfirmed as first:
            if not isinstance(first.__cause__, self._errors()):
                raise
            log.info("publisher connection lost; reconnecting once")
            self.close()
            self._open()
            try:
                self._send_batch(messages)
            except Unconfirmed as again:
                confirmed = max(first.confirmed, again.confirmed)
                raise Unconfirmed(confirmed, str(again.__cause__)) from again.__cause__

    def _send_batch(self, messages: Sequence[Outgoing]) -> None:
        if not isinstance(self.channel, amqp.Channel):  # the in-process transport
            for i, m in enumerate(messages):
                try:
                    self._send(m)
                except Exception as exc:
                    raise Unconfirmed(i, str(exc)) from exc
            return
        try:
            ch = self._confirm_channel()
        except Exception as exc:
            raise Unconfirmed(0, str(exc)) from exc
        first, last = self._tag + 1, self._tag + len(messages)
        unresolved = set(range(first, last + 1))
        nacked: set[int] = set()

        def confirmed(tag: int, multiple: bool, ok: bool) -> None:
            tags = {t for t in unresolved if t <= tag} if multiple else {tag}
            unresolved.difference_update(tags)
            if not ok:
                nacked.update(tags)

        ch.events["basic_ack"] = {lambda tag, multiple: confirmed(tag, multiple, True)}
        ch.events["basic_nack"] = {lambda tag, multiple: confirmed(tag, multiple, False)}
        try:
            with _corked(self.conn.connection.sock):
                for m in messages:
                    ex = self._bind(m.exchange)
                    self._tag += 1
                    # amqp.Channel's publish: the channel's own is confirm_publish's, which
                    # waits for each message's ack before returning
                    amqp.Channel.basic_publish(
                        ch, self._message(ex, m), exchange=ex.name, routing_key=m.routing_key
                    )
            while unresolved:
                ch.wait([spec.Basic.Ack, spec.Basic.Nack], timeout=CONFIRM_TIMEOUT)
            if nacked:
                raise MessageNacked(f"the broker refused delivery tags {sorted(nacked)}")
        except Exception as exc:
            self._drop_confirm_channel()  # its delivery tags may no longer match ours
            done = 0
            while first + done <= last and not {first + done} & (unresolved | nacked):
                done += 1
            raise Unconfirmed(done, str(exc) or type(exc).__name__) from exc

    def _drop_confirm_channel(self) -> None:
        ch, self._confirms = self._confirms, None
        try:
            if ch is not None:
                ch.close()
        except Exception:
            log.debug("closing the confirm channel failed", exc_info=True)

    def _confirm_channel(self) -> Any:
        if self._confirms is None:
            ch = self.conn.channel()
            ch.confirm_select()
            self._confirms, self._tag = ch, 0
        return self._confirms

    def publish_to_queue(self, queue: str, body: str | bytes, headers: dict[str, Any]) -> None:
        """Publish through the default exchange straight to ``queue`` (retries)."""

        def send() -> None:
            Producer(self.channel).publish(
                body,
                exchange="",
                routing_key=queue,
                delivery_mode=2,
                content_type="application/json",
                content_encoding="utf-8",
                headers=headers,
                retry=False,
            )

        self._twice(send)

    def close(self) -> None:
        try:
            self.conn.release()
        except Exception:
            log.debug("publisher close failed", exc_info=True)


@contextmanager
def _corked(sock: socket.socket) -> Iterator[None]:
    """Hold small writes back until the block ends (Linux ``TCP_CORK``): a batch leaves in
    a few full segments instead of one packet — and one wake-up of the broker — per
    message. Elsewhere (no ``TCP_CORK``) the writes go out as they come."""
    cork = getattr(socket, "TCP_CORK", None)
    if cork is None:
        yield
        return
    sock.setsockopt(socket.IPPROTO_TCP, cork, 1)
    try:
        yield
    finally:
        with suppress(OSError):  # a connection lost meanwhile: nothing left to send
            sock.setsockopt(socket.IPPROTO_TCP, cork, 0)


Handler = Callable[[Event], bool]
# (events, enter) -> applied or duplicate, one per event; ``enter(event)`` is called before
# each event's handler (the consumer sets the log context there)
BatchHandler = Callable[[Sequence[Event], Callable[[Event], None]], list[bool]]


@dataclass
class Subscription:
    """One durable queue, its bindings, and the function that applies an event.

    ``apply(event)`` returns True when applied, False for a duplicate, and
    raises to ask for a retry. ``apply_batch(events, enter)``, when given, applies
    several in one transaction — all or none: it raises (having applied nothing)
    when any of them fails, and the consumer then applies them one by one.
    """

    queue: str
    bindings: Sequence[tuple[str, str]]  # (producer, binding key)
    apply: Handler
    args: dict[str, Any] = field(default_factory=dict)
    apply_batch: BatchHandler | None = None

    def queue_arguments(self) -> dict[str, Any]:
        return {**quorum_arguments(self.queue), **self.args}

    def kombu_queue(self) -> Queue:
        from kombu import binding

        return Queue(
            self.queue,
            bindings=[binding(exchange_for(p), routing_key=k) for p, k in self.bindings],
            durable=True,
            queue_arguments=self.queue_arguments(),
        )


def declare_topology(channel: Any, subscriptions: Sequence[Subscription]) -> None:
    """Declare exchanges, queues, bindings and dead-letter queues (idempotent)."""
    DLX(channel).declare()
    for sub in subscriptions:
        for producer, _ in sub.bindings:
            exchange_for(producer)(channel).declare()
        sub.kombu_queue()(channel).declare()
        dead_letter_queue(sub.queue)(channel).declare()


ATTEMPT_HEADER = "x-onestop-attempt"


def attempt_of(headers: dict[str, Any]) -> int:
    """Which delivery attempt this is (a missing or garbled header counts as the first)."""
    try:
        return max(1, int(headers.get(ATTEMPT_HEADER, 1)))
    except (TypeError, ValueError):
        return 1


class Outcome:
    REDELIVERED = "redelivered"  # counted on arrival, besides the final outcome
    APPLIED = "applied"
    DUPLICATE = "duplicate"
    RETRIED = "retried"
    DEAD_LETTERED = "dead_lettered"
    REQUEUED = "requeued"  # put back untouched: a dependency was down (no attempt used)
    RECORDED = "recorded"  # a dead letter kept in the service's database


def body_text(body: str | bytes) -> str:
    """A message body as text (an undecodable one as a JSON object holding its hex)."""
    if isinstance(body, bytes):
        try:
            return body.decode("utf-8")
        except UnicodeDecodeError:
            return json.dumps({"undecodable": body.hex()})
    return body


_TOPIC = TopicExchange(None)


def topic_matches(binding: str, routing_key: str) -> bool:
    """RabbitMQ's topic matching (``*`` one word, ``#`` any number), as kombu does it."""
    return bool(_TOPIC._match(_TOPIC.key_to_pattern(binding), routing_key))


def consumer_queues(definitions: dict[str, Any]) -> dict[str, list[tuple[str, str]]]:
    """Every consumer queue in a RabbitMQ definitions document, with its bindings as
    ``(producer, binding key)`` pairs (the dead-letter queues left out)."""
    queues: dict[str, list[tuple[str, str]]] = {}
    for b in definitions.get("bindings", []):
        source = b["source"]
        if b["destination_type"] != "queue" or source == DLX.name:
            continue
        if source.startswith("onestop."):
            producer = source.removeprefix("onestop.")
            queues.setdefault(b["destination"], []).append((producer, b["routing_key"]))
    return queues


def wait_for_broker(url: str, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while True:
        try:
            with connect(url) as conn:
                conn.ensure_connection(max_retries=1)
                return
        except Exception:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.5)
