"""Outbox, inbox and consumer against a real PostgreSQL and a real RabbitMQ."""

from __future__ import annotations

import json
import threading
import time
import uuid

import pytest
from kombu import Connection, Queue
from sqlalchemy import text

from onestop import migrate
from services import dispatch
from shared.config import load_settings
from shared.consumer import EventConsumer
from shared.events import make_event
from shared.messaging import (
    KombuPublisher,
    Subscription,
    Unconfirmed,
    dead_letter_queue,
    declare_topology,
    exchange_for,
)
from tests.factories import accepted_payload
from tests.factories import stage as stage_events
from tests.support import wait_for

pytestmark = pytest.mark.integration


@pytest.fixture
def settings(postgres, rabbitmq, tmp_path):
    env = {
        "ONESTOP_DATA_DIR": str(tmp_path),
        "ONESTOP_BROKER_URL": rabbitmq.url,
        "ONESTOP_RETRY_BACKOFF": "0.01",
        "ONESTOP_MAX_ATTEMPTS": "3",
    }
    for name in ("directory", "intake", "dispatch", "visits", "scoring", "archive"):
        env[f"ONESTOP_{name.upper()}_DATABASE_URL"] = postgres.url(name)
    s = load_settings(env)
    migrate.upgrade(s)
    return s


@pytest.fixture
def svc(settings):
    svc = dispatch.build(settings)
    with svc.db.engine.begin() as conn:
        conn.execute(text("TRUNCATE outbox, processed_events, assignments"))
    yield svc
    svc.relay.stop()
    svc.db.dispose()


def probe_queue(url: str, key: str) -> str:
    name = f"probe.{uuid.uuid4().hex[:8]}"
    with Connection(url) as conn:
        Queue(name, exchange=exchange_for("dispatch"), routing_key=key, auto_delete=False)(
            conn.default_channel
        ).declare()
    return name


def get_all(url: str, queue: str) -> list:
    out = []
    with Connection(url) as conn, conn.channel() as ch:
        while (m := ch.basic_get(queue, no_ack=True)) is not None:
            out.append(m)
    return out


def stage(svc, n):
    return stage_events(svc, n, producer="dispatch")


def test_relay_publishes_with_confirms_to_rabbitmq(svc, rabbitmq, monkeypatch):
    monkeypatch.setattr(svc.relay, "notify", lambda: None)
    q = probe_queue(rabbitmq.url, "demand.accepted.630000.630100.#")
    ids = stage(svc, 20)
    assert svc.relay.drain(10)
    got = wait_for(lambda: (msgs := get_all(rabbitmq.url, q)) and msgs)
    assert [m.headers["event_id"] for m in got] == ids
    assert got[0].properties["delivery_mode"] == 2


def test_concurrent_relays_never_publish_a_row_twice(svc, settings, rabbitmq, monkeypatch):
    monkeypatch.setattr(svc.relay, "notify", lambda: None)
    q = probe_queue(rabbitmq.url, "#")
    ids = stage(svc, 300)
    others = [dispatch.build(settings) for _ in range(3)]
    threads = [threading.Thread(target=o.relay.drain, args=(20,)) for o in [svc, *others]]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    seen: list[str] = []
    wait_for(
        lambda: (
            seen.extend(m.headers["event_id"] for m in get_all(rabbitmq.url, q)) or len(seen) >= 300
        ),
        timeout=10,
    )
    assert sorted(seen) == sorted(ids)
    for o in others:
        o.db.dispose()


def test_a_nacked_batch_leaves_the_unconfirmed_rows_pending(svc, rabbitmq, monkeypatch):
    """A queue that takes two messages and refuses more makes the broker nack the rest of
    the relay's batch: two rows are marked, three stay pending and go out, in order, once
    nothing refuses them."""
    monkeypatch.setattr(svc.relay, "notify", lambda: None)
    name = f"full.{uuid.uuid4().hex[:8]}"
    full = Queue(
        name,
        exchange=exchange_for("dispatch"),
        routing_key="demand.accepted.#",
        queue_arguments={"x-max-length": 2, "x-overflow": "reject-publish"},
    )
    with Connection(rabbitmq.url) as conn:
        full(conn.default_channel).declare()
    try:
        ids = stage(svc, 5)
        with pytest.raises(Unconfirmed) as raised:
            svc.relay.publish_pending()
        assert raised.value.confirmed == 2
        assert svc.relay.pending() == 3
        assert [m.headers["event_id"] for m in get_all(rabbitmq.url, name)] == ids[:2]
    finally:
        with Connection(rabbitmq.url) as conn:
            full(conn.default_channel).delete()
    q = probe_queue(rabbitmq.url, "demand.accepted.#")
    assert svc.relay.drain(10)
    assert [m.headers["event_id"] for m in get_all(rabbitmq.url, q)] == ids[2:]


def test_broker_down_keeps_rows_pending(settings, svc, monkeypatch):
    monkeypatch.setattr(svc.relay, "notify", lambda: None)
    svc.relay._publisher_factory = lambda: KombuPublisher("amqp://guest:guest@127.0.0.1:1//")
    stage(svc, 2)
    with pytest.raises(Exception):  # noqa: B017 - any connection error
        svc.relay.publish_pending()
    assert svc.relay.pending() == 2


def test_inbox_on_postgres_applies_concurrent_duplicates_once(svc):
    ev = make_event(
        "demand.accepted", 1, producer="intake", jurisdiction="630102", payload=accepted_payload()
    )
    results = []
    start = threading.Barrier(4)

    def handler(event, uow):
        uow.session.execute(text("SELECT pg_sleep(0.2)"))  # widen the race window

    def run():
        start.wait(5)
        results.append(svc.inbox.apply(svc.uow, "it.test", ev, handler))

    threads = [threading.Thread(target=run) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert results.count(True) == 1 and results.count(False) == 3


def test_poison_message_dead_lettered_on_rabbitmq(rabbitmq):
    applied = []
    qname = f"it.{uuid.uuid4().hex[:6]}"
    sub = Subscription(
        qname, [("intake", "demand.accepted.#")], lambda e: applied.append(e.event_id) or True
    )
    consumer = EventConsumer(rabbitmq.url, [sub], retry_backoff=0)
    declare_topology(consumer.connection.default_channel, [sub])
    pub = KombuPublisher(rabbitmq.url)
    pub.publish(exchange_for("intake"), "demand.accepted.630000.630100.630102", "{oops", {})
    good = make_event(
        "demand.accepted", 1, producer="intake", jurisdiction="630102", payload=accepted_payload()
    )
    pub.publish(exchange_for("intake"), good.routing_key, good.to_json(), {})
    pub.close()
    t = threading.Thread(target=consumer.run, daemon=True)
    t.start()
    try:
        wait_for(lambda: applied == [good.event_id])
        dead = wait_for(lambda: get_all(rabbitmq.url, dead_letter_queue(qname).name))
        assert "invalid event" in dead[0].headers["x-onestop-reason"]
        assert dead[0].body in (b"{oops", "{oops")
    finally:
        consumer.should_stop = True
        t.join(5)


def test_a_city_can_bind_only_its_subtree(rabbitmq):
    """Routing keys carry the GB/T 2260 path: 西宁市 (630100) binds just its subtree."""
    from shared.events import subtree_binding

    name = f"city.{uuid.uuid4().hex[:6]}"
    with Connection(rabbitmq.url) as conn:
        Queue(
            name,
            exchange=exchange_for("intake"),
            routing_key=subtree_binding("demand.accepted", "630100"),
        )(conn.default_channel).declare()
    pub = KombuPublisher(rabbitmq.url)
    sent = {}
    for code in ("630102", "630100", "630000", "620102", "632301"):
        ev = make_event(
            "demand.accepted", 1, producer="intake", jurisdiction=code, payload=accepted_payload()
        )
        pub.publish(exchange_for("intake"), ev.routing_key, ev.to_json(), {})
        sent[ev.event_id] = code
    pub.close()
    got = wait_for(lambda: (m := get_all(rabbitmq.url, name)) and m)
    time.sleep(0.2)
    got += get_all(rabbitmq.url, name)
    assert sorted(sent[json.loads(m.body)["event_id"]] for m in got) == ["630100", "630102"]
