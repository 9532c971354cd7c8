"""The confirming publisher's batches on kombu's in-process transport (the embedded shape);
on RabbitMQ see tests/integration/shared/test_publisher.py."""

import uuid

import pytest
from amqp.exceptions import MessageNacked
from kombu import Connection, Queue

from shared.faults import BROKER, unavailable
from shared.messaging import KombuPublisher, Outgoing, Unconfirmed, exchange_for

KEY = "demand.accepted.630000.630100.630102"


@pytest.fixture
def url():
    return f"memory://localhost/{uuid.uuid4().hex}"


def bound_queue(url):
    name = f"probe.{uuid.uuid4().hex[:8]}"
    with Connection(url) as conn:
        Queue(name, exchange=exchange_for("intake"), routing_key="demand.accepted.#")(
            conn.default_channel
        ).declare()
    return name


def take_all(url, queue):
    with Connection(url) as conn, conn.channel() as ch:
        out = []
        while (m := ch.basic_get(queue, no_ack=True)) is not None:
            out.append(m)
        return out


def outgoing(n):
    return [
        Outgoing(exchange_for("intake"), KEY, f'{{"n": {i}}}', {"event_id": f"e{i}"})
        for i in range(n)
    ]


def test_a_batch_arrives_in_order_like_messages_published_one_by_one(url):
    queue = bound_queue(url)
    pub = KombuPublisher(url)
    pub.publish(exchange_for("intake"), KEY, '{"n": "single"}', {"event_id": "single"})
    pub.publish_batch(outgoing(3))
    pub.close()
    got = take_all(url, queue)
    assert [m.headers["event_id"] for m in got] == ["single", "e0", "e1", "e2"]
    single, first = got[0], got[1]
    assert first.properties["delivery_mode"] == single.properties["delivery_mode"] == 2
    assert first.content_type == single.content_type == "application/json"
    assert first.properties["message_id"] == "e0"
    assert first.body in (b'{"n": 0}', '{"n": 0}')


def test_a_failure_mid_batch_says_how_many_went_before_it(url, monkeypatch):
    queue = bound_queue(url)
    pub = KombuPublisher(url)
    send = pub._send

    def third_fails(m):
        if m.headers["event_id"] == "e2":
            raise MessageNacked("refused")
        send(m)

    monkeypatch.setattr(pub, "_send", third_fails)
    with pytest.raises(Unconfirmed) as raised:
        pub.publish_batch(outgoing(5))
    assert raised.value.confirmed == 2
    assert unavailable(raised.value) == BROKER  # waited out by the relay, not a bug
    assert [m.headers["event_id"] for m in take_all(url, queue)] == ["e0", "e1"]


def test_an_empty_batch_publishes_nothing(url):
    queue = bound_queue(url)
    pub = KombuPublisher(url)
    pub.publish_batch([])
    assert take_all(url, queue) == []


def test_durable_queues_are_quorum_queues_with_the_brokers_poison_guard_above_ours():
    from services.dispatch.broker import agency_queue
    from shared.config import load_settings
    from shared.messaging import DELIVERY_LIMIT, Subscription, dead_letter_queue

    args = Subscription("intake.on_x", [("dispatch", "x.#")], bool).kombu_queue().queue_arguments
    assert args == {
        "x-queue-type": "quorum",
        "x-dead-letter-exchange": "onestop.dlx",
        "x-dead-letter-routing-key": "intake.on_x",
        "x-dead-letter-strategy": "at-least-once",
        "x-overflow": "reject-publish",  # what at-least-once dead-lettering needs
        "x-delivery-limit": DELIVERY_LIMIT,
    }
    # our attempts decide first (each retry is a fresh message, but even counted they fit)
    assert 2 * load_settings({}).max_attempts < DELIVERY_LIMIT
    # a .dlq is replicated too, with no limit: nothing would take what it dropped
    assert dead_letter_queue("intake.on_x").queue_arguments == {"x-queue-type": "quorum"}
    agency = agency_queue("ag-pat-1").queue_arguments
    assert agency["x-queue-type"] == "quorum" and agency["x-dead-letter-routing-key"] == (
        "agency.ag-pat-1"
    )


def test_the_in_process_broker_takes_quorum_arguments(url):
    from shared.messaging import Subscription, declare_topology

    name = f"quorum.{uuid.uuid4().hex[:8]}"  # one in-process broker for every test
    sub = Subscription(name, [("intake", "demand.accepted.#")], bool)
    with Connection(url) as conn:
        declare_topology(conn.default_channel, [sub])
        declare_topology(conn.default_channel, [sub])
    pub = KombuPublisher(url)
    pub.publish(exchange_for("intake"), KEY, '{"x": 1}', {})
    pub.close()
    assert [m.body for m in take_all(url, name)] in ([b'{"x": 1}'], ['{"x": 1}'])
