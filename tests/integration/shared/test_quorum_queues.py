"""Quorum queues on a real RabbitMQ: what ``declare_topology`` declares, and that a
dependency outage longer than the broker's delivery limit's worth of put-backs loses
and dead-letters nothing (the consumer republishes instead of requeueing)."""

from __future__ import annotations

import threading
import uuid

import pytest
from amqp.exceptions import PreconditionFailed
from kombu import Connection, Queue
from kombu.exceptions import OperationalError

from shared.consumer import EventConsumer, Pause
from shared.events import make_event
from shared.messaging import (
    DELIVERY_LIMIT,
    KombuPublisher,
    Outcome,
    Subscription,
    dead_letter_queue,
    declare_topology,
    exchange_for,
)
from tests.factories import accepted_payload
from tests.support import wait_for

pytestmark = pytest.mark.integration


def queue_types(rabbitmq, *names):
    rows = rabbitmq.ctl(
        "list_queues", "--no-table-headers", "name", "type", "arguments"
    ).splitlines()
    found = {r.split("\t")[0]: r.split("\t")[1:] for r in rows if "\t" in r}
    return {n: found[n] for n in names}


def depth(url, queue):
    with Connection(url) as conn:
        return conn.default_channel.queue_declare(queue=queue, passive=True).message_count


def test_consumer_queues_and_their_dead_letter_queues_are_quorum_queues(rabbitmq):
    name = f"qq.{uuid.uuid4().hex[:6]}"
    sub = Subscription(name, [("intake", "demand.accepted.#")], lambda e: True)
    with Connection(rabbitmq.url) as conn:
        declare_topology(conn.default_channel, [sub])
        declare_topology(conn.default_channel, [sub])  # idempotent
    types = queue_types(rabbitmq, name, f"{name}.dlq")
    assert types[name][0] == "quorum" and types[f"{name}.dlq"][0] == "quorum"
    args = types[name][1]
    assert f'{{"x-delivery-limit",{DELIVERY_LIMIT}}}' in args
    assert '{"x-dead-letter-strategy","at-least-once"}' in args
    assert '{"x-overflow","reject-publish"}' in args
    # the type cannot change in place: a classic declaration of it is refused
    with Connection(rabbitmq.url) as conn, pytest.raises(PreconditionFailed):
        Queue(name, durable=True)(conn.channel()).declare()


def test_an_outage_outlasting_the_delivery_limit_dead_letters_nothing(rabbitmq):
    """The dependency fails each delivery ``DELIVERY_LIMIT + 5`` times: every time the
    consumer puts the message back and pauses, the probe passes, it resumes. A requeue
    would count each against the quorum queue's limit and the broker would dead-letter
    the message after the 20th; the republish spends none of it."""
    outages = DELIVERY_LIMIT + 5
    calls = []
    applied = []
    outcomes = []

    def apply(event):
        calls.append(event.event_id)
        if len(calls) <= outages:
            raise OperationalError("the database went away")  # an outage, not poison
        applied.append(event.event_id)
        return True

    name = f"qq.{uuid.uuid4().hex[:6]}"
    sub = Subscription(name, [("intake", "demand.accepted.#")], apply)
    consumer = EventConsumer(
        rabbitmq.url,
        [sub],
        max_attempts=3,
        retry_backoff=0,
        probe=lambda: None,
        pause=Pause(first=0.01, cap=0.02),
        on_outcome=lambda q, t, o: outcomes.append(o),
    )
    declare_topology(consumer.connection.default_channel, [sub])
    event = make_event(
        "demand.accepted", 1, producer="intake", jurisdiction="630102", payload=accepted_payload()
    )
    pub = KombuPublisher(rabbitmq.url)
    pub.publish(exchange_for("intake"), event.routing_key, event.to_json(), {})
    pub.close()
    t = threading.Thread(target=consumer.run, daemon=True)
    t.start()
    try:
        # the broker would dead-letter it to the .dlq, where nobody applies it
        dlq = dead_letter_queue(name).name
        wait_for(lambda: applied or depth(rabbitmq.url, dlq), timeout=90, interval=0.2)
    finally:
        consumer.should_stop = True
        t.join(10)
    assert depth(rabbitmq.url, dlq) == 0
    assert applied == [event.event_id] and len(calls) == outages + 1
    assert outcomes.count(Outcome.REQUEUED) >= outages
    assert outcomes.count(Outcome.DEAD_LETTERED) == outcomes.count(Outcome.RETRIED) == 0
    assert depth(rabbitmq.url, name) == 0
