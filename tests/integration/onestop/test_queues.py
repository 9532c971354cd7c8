"""Migrating a classic queue with messages waiting to a quorum queue, on a real
RabbitMQ: nothing lost, nothing doubled, safe to run again and to finish after an
interrupted run."""

from __future__ import annotations

import json
import uuid

import pytest
from kombu import Connection, Queue, binding

from onestop import queues
from shared.messaging import (
    DLX,
    KombuPublisher,
    Subscription,
    dead_letter_queue,
    exchange_for,
)

pytestmark = pytest.mark.integration

KEY = "demand.accepted.630000.630100.630102"


def classic(sub: Subscription) -> Queue:
    """The queue as releases before quorum queues declared it."""
    return Queue(
        sub.queue,
        bindings=[binding(exchange_for(p), routing_key=k) for p, k in sub.bindings],
        durable=True,
        queue_arguments={
            "x-dead-letter-exchange": DLX.name,
            "x-dead-letter-routing-key": sub.queue,
        },
    )


def publish(url, n, tag):
    pub = KombuPublisher(url)
    for i in range(n):
        pub.publish(exchange_for("intake"), KEY, json.dumps({"tag": tag, "i": i}), {"n": i})
    pub.close()


def take_all(url, name):
    out = []
    with Connection(url) as conn, conn.channel() as ch:
        while (m := ch.basic_get(name, no_ack=True)) is not None:
            out.append((json.loads(m.body), m.headers.get("n"), m.properties.get("delivery_mode")))
    return out


def kind(rabbitmq, name):
    rows = [
        r.split("\t")
        for r in rabbitmq.ctl("list_queues", "--no-table-headers", "name", "type").splitlines()
    ]
    return {r[0]: r[1] for r in rows if len(r) == 2}.get(name)


@pytest.fixture
def sub():
    return Subscription(f"mig.{uuid.uuid4().hex[:6]}", [("intake", "demand.accepted.#")], bool)


def test_a_classic_queue_becomes_a_quorum_queue_with_its_messages(rabbitmq, sub):
    url = rabbitmq.url
    with Connection(url) as conn:
        classic(sub)(conn.channel()).declare()
        Queue(f"{sub.queue}.dlq", exchange=DLX, routing_key=sub.queue, durable=True)(
            conn.channel()
        ).declare()
    assert kind(rabbitmq, sub.queue) == "classic"
    publish(url, 200, "before")
    with Connection(url) as conn:
        assert queues.ensure(conn, sub.kombu_queue()) == 200
        assert queues.ensure(conn, dead_letter_queue(sub.queue)) == 0
        # run again: nothing to do
        assert queues.ensure(conn, sub.kombu_queue()) is None
        assert queues.ensure(conn, dead_letter_queue(sub.queue)) is None
    assert kind(rabbitmq, sub.queue) == "quorum"
    assert kind(rabbitmq, f"{sub.queue}.dlq") == "quorum"
    assert kind(rabbitmq, sub.queue + queues.SUFFIX) is None  # the temporary one is gone
    publish(url, 1, "after")  # the new queue has the old one's bindings
    got = take_all(url, sub.queue)
    # every message once, in order, with its headers, still persistent
    assert got == [({"tag": "before", "i": i}, i, 2) for i in range(200)] + [
        ({"tag": "after", "i": 0}, 0, 2)
    ]


def test_an_interrupted_migration_is_finished_by_the_next_run(rabbitmq, sub):
    """The run stopped after the queue was declared again as a quorum queue, with the
    messages still on ``<queue>.migrating`` (bound, so new events went there too)."""
    url = rabbitmq.url
    temp = queues.twin(sub.kombu_queue(), sub.queue + queues.SUFFIX)
    with Connection(url) as conn:
        assert queues.declare(conn, temp)
        assert queues.declare(conn, sub.kombu_queue())
    publish(url, 30, "meanwhile")  # bound to both: each event on both queues
    with Connection(url) as conn:
        queues.unbind(conn, sub.queue, sub.kombu_queue())
        take_all(url, sub.queue)  # only the temporary queue holds them now
        assert queues.ensure(conn, sub.kombu_queue()) == 30
        assert queues.ensure(conn, sub.kombu_queue()) is None
    assert kind(rabbitmq, temp.name) is None
    publish(url, 1, "after")
    got = take_all(url, sub.queue)
    assert [b for b, _, _ in got] == [{"tag": "meanwhile", "i": i} for i in range(30)] + [
        {"tag": "after", "i": 0}
    ]
