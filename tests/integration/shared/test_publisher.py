"""The confirming publisher's batches against a real RabbitMQ: sent back to back,
confirmed once, a nack or a lost connection reported as how many were confirmed."""

from __future__ import annotations

import socket
import uuid

import pytest
from amqp.exceptions import MessageNacked
from kombu import Connection, Queue

from shared.messaging import KombuPublisher, Outgoing, Unconfirmed, exchange_for
from tests.support import wait_for

pytestmark = pytest.mark.integration


def bound_queue(url: str, key: str, **arguments: object) -> str:
    name = f"probe.{uuid.uuid4().hex[:8]}"
    with Connection(url) as conn:
        Queue(
            name,
            exchange=exchange_for("intake"),
            routing_key=key,
            durable=True,
            queue_arguments=arguments or None,
        )(conn.default_channel).declare()
    return name


def take_all(url: str, queue: str) -> list:
    out = []
    with Connection(url) as conn, conn.channel() as ch:
        while (m := ch.basic_get(queue, no_ack=True)) is not None:
            out.append(m)
    return out


def outgoing(key: str, n: int, tag: str = "e") -> list[Outgoing]:
    return [
        Outgoing(exchange_for("intake"), key, f'{{"n": {i}}}', {"event_id": f"{tag}{i}"})
        for i in range(n)
    ]


def test_batches_arrive_in_order_like_messages_published_one_by_one(rabbitmq):
    key = f"batch.{uuid.uuid4().hex[:8]}"
    queue = bound_queue(rabbitmq.url, key)
    pub = KombuPublisher(rabbitmq.url)
    try:
        pub.publish(exchange_for("intake"), key, '{"n": "single"}', {"event_id": "single"})
        pub.publish_batch(outgoing(key, 50, "a"))  # delivery tags 1–50 on the batch channel
        pub.publish_batch(outgoing(key, 50, "b"))  # and 51–100: each batch waits for its own
    finally:
        pub.close()
    got = wait_for(lambda: (m := take_all(rabbitmq.url, queue)) and m)
    expected = ["single", *(f"a{i}" for i in range(50)), *(f"b{i}" for i in range(50))]
    assert [m.headers["event_id"] for m in got] == expected
    single, first = got[0], got[1]
    assert first.properties["delivery_mode"] == single.properties["delivery_mode"] == 2
    assert first.content_type == single.content_type == "application/json"
    assert first.properties["message_id"] == "a0"
    assert first.body == '{"n": 0}' and single.body == '{"n": "single"}'


def test_a_nack_mid_batch_says_how_many_were_confirmed_before_it(rabbitmq):
    """A queue that holds two messages and refuses more: the broker acks the first two
    and nacks the rest."""
    key = f"nack.{uuid.uuid4().hex[:8]}"
    full = bound_queue(rabbitmq.url, key, **{"x-max-length": 2, "x-overflow": "reject-publish"})
    pub = KombuPublisher(rabbitmq.url)
    try:
        with pytest.raises(Unconfirmed) as raised:
            pub.publish_batch(outgoing(key, 5))
        assert raised.value.confirmed == 2
        assert isinstance(raised.value.__cause__, MessageNacked)
        assert [m.headers["event_id"] for m in take_all(rabbitmq.url, full)] == ["e0", "e1"]
        pub.publish_batch(outgoing(key, 2, "again"))  # the same publisher goes on
    finally:
        pub.close()
    assert [m.headers["event_id"] for m in take_all(rabbitmq.url, full)] == ["again0", "again1"]


def test_a_connection_lost_before_the_confirms_sends_the_batch_again(rabbitmq):
    key = f"lost.{uuid.uuid4().hex[:8]}"
    queue = bound_queue(rabbitmq.url, key)
    pub = KombuPublisher(rabbitmq.url)
    channel = pub._confirm_channel()
    wait = channel.wait

    def lose_the_connection(*args, **kwargs):
        pub.conn.connection.sock.shutdown(socket.SHUT_RDWR)  # after the sends, before acks
        return wait(*args, **kwargs)

    channel.wait = lose_the_connection
    try:
        pub.publish_batch(outgoing(key, 20))  # confirmed on a new connection
        assert pub._confirms is not channel
    finally:
        pub.close()
    ids = [f"e{i}" for i in range(20)]
    got = [m.headers["event_id"] for m in wait_for(lambda: take_all(rabbitmq.url, queue))]
    assert got[-20:] == ids  # the second sending, whole and in order
    assert set(got) == set(ids)  # plus perhaps some of the first: duplicates, never a loss
