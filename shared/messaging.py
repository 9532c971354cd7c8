"""kombu topology and the confirming publisher (the consumer is ``shared.consumer``).

Topology (the same on RabbitMQ and on kombu's in-process ``memory://``):

* one durable **topic exchange per producing service**: ``onestop.<producer>``;
* routing keys ``<event_type>.<province>.<city>.<county>`` (see
  ``shared.events.routing_key``), so a city binds only its subtree with
  ``demand.accepted.630000.630100.#``;
* one durable **queue per consuming handler**: ``<service>.<handler>``;
* a direct **dead-letter exchange** ``onestop.dlx`` and one ``<queue>.dlq`` per
  queue, where ``shared.consumer`` puts what it cannot apply.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from kombu import Connection, Exchange, Producer, Queue
from kombu.transport.virtual.exchange import TopicExchange

from shared.events import Event

log = logging.getLogger(__name__)

DLX = Exchange("onestop.dlx", type="direct", durable=True)


def exchange_for(producer: str) -> Exchange:
    return Exchange(f"onestop.{producer}", type="topic", durable=True)


def dead_letter_queue(queue_name: str) -> Queue:
    return Queue(f"{queue_name}.dlq", exchange=DLX, routing_key=queue_name, durable=True)


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


class KombuPublisher:
    """Publishes persistent JSON messages and waits for the broker's confirm.

    On RabbitMQ ``confirm_publish`` makes ``basic_publish`` block until the
    broker acks (a nack or a lost connection raises); the in-process transport
    stores the message synchronously, which is its confirm. A publisher sits
    idle between bursts, so it negotiates no heartbeat (nobody would service
    it); a connection found dead on use is re-opened and the publish tried once
    more — a duplicate from that is harmless, consumers being idempotent.
    """

    def __init__(self, url: str) -> None:
        self.url = url
        self._open()

    def _open(self) -> None:
        self.conn = connect(self.url, heartbeat=0)
        self.channel = self.conn.channel()
        self._declared: set[str] = set()

    def _bind(self, exchange: Exchange) -> Exchange:
        bound = exchange(self.channel)
        if exchange.name not in self._declared:
            bound.declare()
            self._declared.add(exchange.name)
        return bound

    def _twice(self, send: Callable[[], None]) -> None:
        errors = (*self.conn.connection_errors, *self.conn.channel_errors)
        try:
            send()
        except errors:
            log.info("publisher connection lost; reconnecting once")
            self.close()
            self._open()
            send()

    def publish(
        self,
        exchange: Exchange,
        routing_key: str,
        body: str,
        headers: dict[str, Any],
    ) -> None:
        def send() -> None:
            ex = self._bind(exchange)
            msg = ex.Message(
                body,
                content_type="application/json",
                content_encoding="utf-8",
                delivery_mode=2,
                headers=headers,
                properties={"message_id": headers.get("event_id", "")},
            )
            ex.publish(msg, routing_key=routing_key)

        self._twice(send)

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


Handler = Callable[[Event], bool]


@dataclass
class Subscription:
    """One durable queue, its bindings, and the function that applies an event.

    ``apply(event)`` returns True when applied, False for a duplicate, and
    raises to ask for a retry.
    """

    queue: str
    bindings: Sequence[tuple[str, str]]  # (producer, binding key)
    apply: Handler
    args: dict[str, Any] = field(default_factory=dict)

    def queue_arguments(self) -> dict[str, Any]:
        return {
            "x-dead-letter-exchange": DLX.name,
            "x-dead-letter-routing-key": self.queue,
            **self.args,
        }

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
