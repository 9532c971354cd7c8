"""The consumer's delivery rules on kombu's in-process transport."""

import json
import uuid

import pytest
from kombu import Connection

from shared.consumer import EventConsumer
from shared.events import make_event
from shared.messaging import (
    ATTEMPT_HEADER,
    KombuPublisher,
    Subscription,
    dead_letter_queue,
    declare_topology,
    exchange_for,
)
from tests.factories import accepted_payload


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
    consumer = setup(url, lambda e: seen.append(e.event_id) or True)
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
    [letter] = dlq(url, "test.q")
    assert "invalid event" in letter.headers["x-onestop-reason"]


# --- transient failures: paused, requeued, never an attempt -------------------------------


def _outage(kind="connection refused"):
    from sqlalchemy.exc import OperationalError

    return OperationalError("SELECT 1", {}, Exception(kind))


class FakeConsumer:
    def __init__(self):
        self.cancelled = 0
        self.consumed = 0

    def cancel(self):
        self.cancelled += 1

    def consume(self):
        self.consumed += 1


def test_a_database_outage_uses_no_attempt_and_pauses_until_the_probe_passes(url):
    database = {"up": False}
    calls = []

    def apply(event):
        calls.append(event.event_id)
        if not database["up"]:
            raise _outage()
        return True

    outcomes = []
    consumer = setup(
        url,
        apply,
        max_attempts=2,
        probe=lambda: None if database["up"] else "database: down",
    )
    consumer._on_outcome = lambda q, t, o: outcomes.append(o)
    fake = FakeConsumer()
    consumer._consumers = [fake]
    publish(url, event_json())
    # however often it is delivered while the database is down, it is put back untouched
    for _ in range(5):
        drain(consumer, 1)
        consumer.pause.next_probe = 0  # as if the backoff had passed
        consumer.on_iteration()
    assert consumer.pause.active and fake.cancelled == 1 and fake.consumed == 0
    assert len(calls) == 1 and outcomes[0] == "requeued"
    assert all(o == "requeued" for o in outcomes)
    with Connection(url) as conn, conn.channel() as ch:
        [m] = [ch.basic_get("test.q")]
        assert ATTEMPT_HEADER not in (m.headers or {})  # not a retry: the same message
        m.requeue()
    assert dlq(url, "test.q") == []
    database["up"] = True
    consumer.pause.next_probe = 0
    consumer.on_iteration()
    assert not consumer.pause.active and fake.consumed == 1
    drain(consumer, 1)
    assert outcomes[-1] == "applied" and len(calls) == 2
    assert dlq(url, "test.q") == []


def test_serialization_failures_and_deadlocks_use_no_attempt(url):
    import psycopg.errors

    calls = []

    def apply(event):
        calls.append(1)
        if len(calls) <= 4:
            raise _outage("deadlock detected") from psycopg.errors.DeadlockDetected()
        return True

    consumer = setup(url, apply, max_attempts=2, probe=lambda: None)
    consumer._consumers = [FakeConsumer()]
    publish(url, event_json())
    for _ in range(6):
        drain(consumer, 1)
        consumer.pause.next_probe = 0
        consumer.on_iteration()
    assert len(calls) == 5  # four deadlocks with max_attempts=2, then applied
    assert dlq(url, "test.q") == []


def test_the_probe_backs_off_up_to_a_cap():
    from shared.consumer import Pause

    p = Pause(first=0.5, cap=4)
    p.begin("database: down", now=100)
    assert p.next_probe == 100.5 and not p.due(100.4) and p.due(100.5)
    delays = []
    for _ in range(6):
        p.failed_probe("database: down", now=200)
        delays.append(p.delay)
    assert delays == [1, 2, 4, 4, 4, 4]
    p.end()  # the probe passed: the next pause, if the work still fails, waits as long
    assert not p.active and p.delay == 4
    p.healthy()  # a message went through
    assert p.delay == 0.5


def test_a_handler_failure_on_a_healthy_system_still_counts(url):
    calls = []

    def broken(event):
        calls.append(1)
        raise KeyError("no such department")

    consumer = setup(url, broken, max_attempts=2, probe=lambda: None)
    publish(url, event_json())
    drain(consumer, 1)
    assert len(calls) == 2 and len(dlq(url, "test.q")) == 1


def test_dead_letters_are_drained_into_the_sink_and_wait_while_it_is_down(url):
    kept = []
    sink_up = {"up": False}

    def sink(queue, body, headers):
        if not sink_up["up"]:
            raise _outage()
        kept.append((queue, json.loads(body), headers["x-onestop-reason"]))

    consumer = setup(url, lambda e: True, dead_letter_sink=sink, probe=lambda: None)
    consumer._consumers = [FakeConsumer()]
    publish(url, '{"not": "an event"}')
    drain(consumer, 1)
    sub = consumer.subscriptions[0]
    with Connection(url) as conn, conn.channel() as ch:
        m = ch.basic_get(dead_letter_queue("test.q").name)
        m.channel = ch
        assert consumer.record(sub, m) == "requeued"  # the database is down: it stays
        assert consumer.pause.active
        sink_up["up"] = True
        consumer.pause.next_probe = 0
        consumer.on_iteration()
        m = ch.basic_get(dead_letter_queue("test.q").name)
        m.channel = ch
        assert consumer.record(sub, m) == "recorded"
    assert kept == [("test.q", {"not": "an event"}, kept[0][2])]
    assert "invalid event" in kept[0][2]
    assert dlq(url, "test.q") == []


def test_a_requeue_on_the_in_process_broker_goes_back_to_its_own_queue_only(url):
    """kombu's memory transport requeues through the exchange, which would copy a topic
    event into every bound queue; ours goes back to the subscription's queue alone."""
    other = Subscription("other.q", [("intake", "demand.accepted.#")], lambda e: True)
    consumer = setup(url, lambda e: (_ for _ in ()).throw(_outage()), probe=lambda: None)
    declare_topology(consumer.connection.default_channel, [other])
    consumer._consumers = [FakeConsumer()]
    publish(url, event_json())
    with Connection(url) as conn, conn.channel() as ch:
        assert ch.basic_get("other.q") is not None  # its own copy, taken away
        drain(consumer, 1)
        assert consumer.pause.active
        assert ch.basic_get("other.q") is None
        back = ch.basic_get("test.q")
        assert back is not None and ATTEMPT_HEADER not in (back.headers or {})


def test_a_dead_letter_the_database_refuses_stops_only_its_dlq(url):
    from sqlalchemy.exc import DataError

    def sink(queue, body, headers):
        raise DataError("INSERT", {}, Exception("cannot contain NUL (0x00) characters"))

    seen = []
    consumer = setup(
        url, lambda e: seen.append(1) or True, dead_letter_sink=sink, probe=lambda: None
    )
    dlq_consumer = FakeConsumer()
    consumer._sinks = {"test.q": dlq_consumer}
    publish(url, '{"not": "an event"}')
    drain(consumer, 1)
    sub = consumer.subscriptions[0]
    with Connection(url) as conn, conn.channel() as ch:
        m = ch.basic_get(dead_letter_queue("test.q").name)
        m.channel = ch
        assert consumer.record(sub, m) == "requeued"
    assert consumer.stalled == {"test.q"} and dlq_consumer.cancelled == 1
    assert not consumer.pause.active  # the other queues keep flowing
    publish(url, event_json())
    drain(consumer, 1)
    assert seen == [1]
    assert len(dlq(url, "test.q")) == 1  # the letter is still on the broker


def test_a_nacked_retry_publish_puts_the_message_back_and_pauses(url, monkeypatch):
    from amqp.exceptions import MessageNacked

    consumer = setup(url, lambda e: (_ for _ in ()).throw(KeyError("bug")), probe=lambda: None)
    consumer._consumers = [FakeConsumer()]
    publish(url, event_json())

    def nacked(*a, **k):
        raise MessageNacked("nacked")

    monkeypatch.setattr(KombuPublisher, "publish_to_queue", nacked)
    with Connection(url) as conn, conn.channel() as ch:
        m = ch.basic_get("test.q")
        m.channel = ch
        with pytest.raises(MessageNacked):  # even the put-back publish is nacked here
            consumer.handle(consumer.subscriptions[0], m)
    assert consumer.pause.active and consumer.pause.reason.startswith("broker")


def test_any_failure_while_the_probe_finds_the_database_down_uses_no_attempt(url):
    """Whatever exception a driver shows an outage as, it is not the event's fault."""
    calls = []

    def apply(event):
        calls.append(1)
        raise RuntimeError("a driver error nobody classified")

    consumer = setup(url, apply, max_attempts=1, probe=lambda: "database: down")
    consumer._consumers = [FakeConsumer()]
    publish(url, event_json())
    drain(consumer, 1)
    assert consumer.pause.active and len(calls) == 1
    assert dlq(url, "test.q") == []  # with max_attempts=1 a counted failure would be dead


def test_stop_ends_a_consumer_that_waits_for_an_unreachable_broker():
    """A SIGTERM while the broker is down (``stop()``) ends the worker within a second or
    two, instead of kombu's reconnecting loop retrying for ever."""
    import socket
    import threading
    import time

    with socket.socket() as s:  # a port nothing listens on: every connection is refused
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    sub = Subscription("test.unreachable", [("intake", "demand.accepted.#")], apply=lambda e: True)
    consumer = EventConsumer(f"amqp://guest:guest@127.0.0.1:{port}//", [sub])
    thread = threading.Thread(target=consumer.run, daemon=True)
    thread.start()
    time.sleep(2.5)  # a few refused attempts and a wait between them
    assert thread.is_alive() and not consumer.ready
    stopped = time.monotonic()
    consumer.stop()
    thread.join(10)
    assert not thread.is_alive()
    assert time.monotonic() - stopped < 3
