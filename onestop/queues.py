"""Declaring durable queues on a broker that may hold older ones: classic → quorum.

A queue's type and arguments cannot change once it is declared: RabbitMQ refuses a
declaration that differs (``PRECONDITION_FAILED``, e.g. a classic queue declared again
as a quorum queue). ``ensure`` declares a queue as we want it and, when the broker
refuses, moves the old queue's messages into a new one of the same name, losing none:

1. declare ``<name>.migrating`` as wanted, bound like the queue (new events reach it);
2. unbind the old queue, move its messages into ``<name>.migrating``, delete it;
3. declare the queue as wanted (with its bindings), unbind ``<name>.migrating``, move
   the messages back, delete ``<name>.migrating``.

Each message is moved with a ``basic.get``, a publish the broker confirms and only then
the ``basic.ack`` of the original: a crash leaves at most a copy in both queues (the
inbox of a consumer recognises it), never a message in neither. Every step is
idempotent and ``ensure`` starts from whatever it finds — a queue as wanted and a
``.migrating`` one left by an interrupted run is finished by moving it back — so it is
safe to run again. Run it with the workers stopped (``onestop migrate`` does, before
they start): a consumer of the old queue would see it deleted under it.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import amqp
from amqp.exceptions import NotFound, PreconditionFailed
from kombu import Connection, Queue

log = logging.getLogger(__name__)

SUFFIX = ".migrating"
CONFIRM_TIMEOUT = 30.0


@contextmanager
def _channel(conn: Connection) -> Iterator[Any]:
    """A channel of its own: a refused declaration closes the channel it was sent on."""
    ch = conn.channel()
    try:
        yield ch
    finally:
        try:
            ch.close()
        except Exception:  # already closed by the broker's refusal
            log.debug("closing a channel failed", exc_info=True)


def routes(queue: Queue) -> list[tuple[str, str]]:
    """(exchange, routing key) of every binding ``queue`` is declared with."""
    if queue.bindings:
        return [(b.exchange.name, b.routing_key or "") for b in queue.bindings]
    if queue.exchange is not None and queue.exchange.name:
        return [(queue.exchange.name, queue.routing_key or "")]
    return []


def twin(queue: Queue, name: str) -> Queue:
    """``queue`` under another name: the same arguments and bindings."""
    return Queue(
        name,
        exchange=queue.exchange,
        routing_key=queue.routing_key,
        bindings=list(queue.bindings),
        durable=True,
        queue_arguments=getattr(queue, "queue_arguments", None),
    )


def exists(conn: Connection, name: str) -> bool:
    with _channel(conn) as ch:
        try:
            ch.queue_declare(queue=name, passive=True)
            return True
        except NotFound:
            return False


def declare(conn: Connection, queue: Queue) -> bool:
    """Declare ``queue`` with its bindings; False when the broker holds a different one."""
    with _channel(conn) as ch:
        try:
            queue(ch).declare()
            return True
        except PreconditionFailed as exc:
            log.info("%s is declared otherwise on the broker: %s", queue.name, exc)
            return False


def unbind(conn: Connection, name: str, queue: Queue) -> None:
    with _channel(conn) as ch:
        for exchange, key in routes(queue):
            ch.queue_unbind(queue=name, exchange=exchange, routing_key=key)


def move(conn: Connection, source: str, target: str) -> int:
    """Move every message of ``source`` to ``target`` (confirmed, then acknowledged);
    how many. Body and properties are kept (the quorum queue's delivery count is not:
    the message starts afresh in its new queue)."""
    moved = 0
    with _channel(conn) as ch:
        while (msg := ch.basic_get(queue=source, no_ack=False)) is not None:
            props = dict(msg.properties)
            headers = dict(props.get("application_headers") or {})
            headers.pop("x-delivery-count", None)
            props["application_headers"] = headers
            copy = amqp.Message(msg.body, **props)
            ch.basic_publish(copy, exchange="", routing_key=target, confirm_timeout=CONFIRM_TIMEOUT)
            ch.basic_ack(msg.delivery_tag)
            moved += 1
    return moved


def drain_and_delete(conn: Connection, source: str, target: str) -> None:
    """Move ``source``'s messages to ``target`` and delete it once it is seen empty with
    no consumer. (Quorum queues refuse ``if-empty`` deletes; with the queue unbound and
    the workers stopped nothing else reaches it — a stray publish straight to it between
    the check and the delete would be dropped, and is reported.)"""
    for _ in range(10):
        move(conn, source, target)
        with _channel(conn) as ch:
            ok = ch.queue_declare(queue=source, passive=True)
            if ok.message_count or ok.consumer_count:
                continue
            dropped = ch.queue_delete(queue=source)
        if dropped:
            raise RuntimeError(f"{dropped} messages reached {source} while it was deleted")
        return
    raise RuntimeError(f"{source} keeps receiving messages or has consumers: stop the workers")


def ensure(conn: Connection, queue: Queue) -> int | None:
    """Declare ``queue`` as given, migrating an existing queue of its name that differs
    (a classic queue, other arguments) with its messages. None when nothing was to
    migrate, else how many messages were moved into the new queue."""
    temp = twin(queue, queue.name + SUFFIX)
    if declare(conn, queue):
        if not exists(conn, temp.name):
            return None
        log.warning("finishing the migration of %s left by an earlier run", queue.name)
    else:
        log.warning("migrating %s to a new queue (its messages kept)", queue.name)
        if not declare(conn, temp):
            raise RuntimeError(f"{temp.name} exists with other arguments: delete it first")
        unbind(conn, queue.name, queue)  # new events now reach only the temporary queue
        drain_and_delete(conn, queue.name, temp.name)
        if not declare(conn, queue):
            raise RuntimeError(f"{queue.name} was declared again meanwhile: stop its workers")
    unbind(conn, temp.name, queue)
    before = message_count(conn, queue.name)
    drain_and_delete(conn, temp.name, queue.name)
    moved = message_count(conn, queue.name) - before
    log.warning("migrated %s: %d messages kept", queue.name, moved)
    return moved


def message_count(conn: Connection, name: str) -> int:
    with _channel(conn) as ch:
        return int(ch.queue_declare(queue=name, passive=True).message_count)
