"""The consumer's delivery rules on kombu's in-process transport."""

import json
import uuid

import pytest
from kombu import Connection

from shared.events import make_event
from shared.messaging import (
    ATTEMPT_HEADER,
    EventConsumer,
    KombuPublisher,
    Subscription,
    dead_letter_queue,
    declare_topology,
    exchange_for,
)
from tests.unit.shared.test_events import accepted_payload


@pytest.fixture
def url():
    # A fresh virtual host per test keeps the in-process queues apart.
    return f"memory://localhost/{uuid.uuid4().hex}"


def publish(url, body):
    pub = KombuPublisher(url)
    pub.publish(
        exchange_for("intake"),
        "demand.accepted.630000.630100.630102",
        body,
        {"event_type": "demand.accepted"},
    )
    pub.close()


def drain(consumer, n):
    with consumer.connection.channel() as ch:
        for _ in range(n * 5):
            msgs = []
            for sub in consumer.subscriptions:
                m = ch.basic_get(sub.queue)
                if m is not None:
                    msgs.append((sub, m))
            if not msgs:
                return
            for sub, m in msgs:
                m.channel = ch
                consumer.handle(sub, m)


def dlq(url, queue):
    with Connection(url) as conn, conn.channel() as ch:
        out = []
        while (m := ch.basic_get(dead_letter_queue(queue).name)) is not None:
            out.append(m)
        return out


def setup(url, apply, **kw):
    sub = Subscription("test.q", [("intake", "demand.accepted.#")], apply)
    consumer = EventConsumer(url, [sub], retry_backoff=0, **kw)
    declare_topology(consumer.connection.default_channel, [sub])
    return consumer


def event_json():
    return make_event(
        "demand.accepted", 1, producer="intake", jurisdiction="630102", payload=accepted_payload()
    ).to_json()


def test_poison_message_is_dead_lettered_with_reason_and_queue_keeps_flowing(url):
    seen = []
    consumer = setup(url, lambda e: seen.append(e.event_id) or True)
    publish(url, '{"not": "an event"}')
    good = event_json()
    publish(url, good)
    drain(consumer, 2)
    assert seen == [json.loads(good)["event_id"]]
    [dead] = dlq(url, "test.q")
    assert "invalid event" in dead.headers["x-onestop-reason"]
    assert dead.headers["x-onestop-queue"] == "test.q"
    assert json.loads(dead.body) == {"not": "an event"}


def test_failures_are_retried_then_applied(url):
    calls = []

    def flaky(event):
        calls.append(1)
        if len(calls) < 3:
            raise RuntimeError("database hiccup")
        return True

    consumer = setup(url, flaky, max_attempts=5)
    publish(url, event_json())
    drain(consumer, 1)
    assert len(calls) == 3
    assert dlq(url, "test.q") == []


def test_bounded_retries_then_dead_letter_with_the_error(url):
    calls = []

    def broken(event):
        calls.append(1)
        raise ValueError("no such department")

    consumer = setup(url, broken, max_attempts=3)
    publish(url, event_json())
    drain(consumer, 1)
    assert len(calls) == 3
    [dead] = dlq(url, "test.q")
    assert dead.headers["x-onestop-reason"] == "ValueError: no such department"
    assert dead.headers["x-onestop-attempts"] == 3
    assert dead.headers[ATTEMPT_HEADER] == 3


def test_duplicates_are_acked_and_counted(url):
    outcomes = []
    applied = set()

    def once(event):
        if event.event_id in applied:
            return False
        applied.add(event.event_id)
        return True

    consumer = setup(url, once)
    consumer._on_outcome = lambda q, t, o: outcomes.append(o)
    body = event_json()
    publish(url, body)
    publish(url, body)
    drain(consumer, 2)
    assert outcomes == ["applied", "duplicate"]


def test_garbage_never_kills_the_consumer(url):
    seen = []
    dead = []
    consumer = setup(url, lambda e: seen.append(e.event_id) or True)
    consumer._on_dead_letter = lambda q, body, headers: dead.append(headers["x-onestop-reason"])
    publish(url, "[" * 100_000)  # json.loads raises RecursionError
    pub = KombuPublisher(url)
    pub.publish(
        exchange_for("intake"),
        "demand.accepted.630000.630100.630102",
        event_json(),
        {ATTEMPT_HEADER: "abc"},
    )  # a garbled attempt header counts as the first
    pub.close()
    drain(consumer, 2)
    assert len(seen) == 1
    assert len(dead) == 1 and "invalid event" in dead[0]
    assert len(dlq(url, "test.q")) == 1
