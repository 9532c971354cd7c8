"""The consumer's batches: the deliveries at hand applied in one transaction with their
inbox rows, acknowledged after its commit — and, when the batch fails, one by one, so a
poison message or a failing event is sorted out alone and an outage puts everything back.

Runs kombu's own consuming loop on its in-process transport over an inbox in SQLite."""

import uuid

import pytest
from kombu import Connection
from sqlalchemy import Column, Integer, MetaData, String, Table, insert, select

from shared.consumer import EventConsumer
from shared.events import make_event
from shared.messaging import (
    KombuPublisher,
    Subscription,
    dead_letter_queue,
    declare_topology,
    exchange_for,
)
from shared.outbox import Inbox, add_outbox_tables
from tests.factories import accepted_payload
from tests.fakes import FakeUnitOfWork

metadata = MetaData()
add_outbox_tables(metadata)
applied = Table(
    "applied",
    metadata,
    Column("seq", Integer, primary_key=True, autoincrement=True),
    Column("event_id", String(64), nullable=False),
    Column("correlation_id", String(64)),
)


class World:
    def __init__(self, tmp_path, **kw):
        self.url = "memory://"
        self.queue = f"test.{uuid.uuid4().hex}"  # kombu's in-process queues are global
        self.uow = FakeUnitOfWork(metadata, tmp_path / "inbox.db")
        self.inbox = Inbox(metadata.tables["processed_events"])
        self.failing: set[str] = set()  # event ids whose handler raises
        self.down = False  # the database "down": every handler raises, the probe says so
        self.outcomes: list[str] = []
        self.batches: list[int] = []
        sub = Subscription(
            self.queue,
            [("intake", "demand.accepted.#")],
            apply=lambda e: self.inbox.apply(lambda: self.uow, self.queue, e, self.handler),
            apply_batch=self.apply_batch,
        )
        self.consumer = EventConsumer(
            self.url,
            [sub],
            retry_backoff=0,
            prefetch=50,
            batch=kw.pop("batch", 50),
            probe=lambda: "database: down" if self.down else None,
            on_outcome=lambda q, t, o: self.outcomes.append(o),
            **kw,
        )
        declare_topology(self.consumer.connection.default_channel, [sub])

    def apply_batch(self, events, enter):
        self.batches.append(len(events))
        return self.inbox.apply_batch(lambda: self.uow, self.queue, events, self.handler, enter)

    def handler(self, event, uow):
        from shared.logs import correlation_id

        uow.session.execute(
            insert(applied).values(event_id=event.event_id, correlation_id=correlation_id.get())
        )
        if self.down:
            raise RuntimeError("server closed the connection unexpectedly")
        if event.event_id in self.failing:
            raise ValueError(f"cannot apply {event.event_id}")

    def publish(self, body):
        pub = KombuPublisher(self.url)
        pub.publish(
            exchange_for("intake"),
            "demand.accepted.630000.630100.630102",
            body,
            {"event_type": "demand.accepted"},
        )
        pub.close()

    def run(self, reads):
        """``reads`` turns of kombu's loop (each read is followed by a flush)."""
        for _ in self.consumer.consume(limit=reads, timeout=1):
            pass

    def applied(self):
        with self.uow.read() as s:
            return list(s.execute(select(applied.c.event_id).order_by(applied.c.seq)).scalars())

    def queued(self, dead=False):
        queue = dead_letter_queue(self.queue).name if dead else self.queue
        with Connection(self.url) as conn, conn.channel() as ch:
            return ch.queue_declare(queue=queue, passive=True).message_count

    def commits(self):
        return self.uow.commits


def event(correlation="c-1"):
    e = make_event(
        "demand.accepted",
        1,
        producer="intake",
        jurisdiction="630102",
        payload=accepted_payload(),
        correlation_id=correlation,
    )
    return e.event_id, e.to_json()


@pytest.fixture
def world(tmp_path):
    w = World(tmp_path)
    yield w
    w.consumer.connection.release()


def test_the_deliveries_at_hand_are_applied_in_one_transaction_in_order(world):
    sent = [event(f"c-{i}") for i in range(7)]
    for _, body in sent:
        world.publish(body)
    world.run(1)
    assert world.applied() == [eid for eid, _ in sent]
    assert world.batches == [7] and world.commits() == 1
    assert world.outcomes == ["applied"] * 7
    # each handler ran with its own event's correlation id (and so emits with it)
    with world.uow.read() as s:
        assert list(s.execute(select(applied.c.correlation_id)).scalars()) == [
            f"c-{i}" for i in range(7)
        ]
    world.consumer.connection.release()
    assert world.queued() == 0  # acknowledged: nothing comes back when the channel closes


def test_a_batch_never_exceeds_its_size(tmp_path):
    w = World(tmp_path, batch=3)
    for _ in range(7):
        w.publish(event()[1])
    w.run(3)
    assert w.batches == [3, 3] and len(w.applied()) == 7  # the seventh came alone
    assert w.outcomes.count("applied") == 7


def test_a_lingering_consumer_waits_for_deliveries_that_follow_to_fill_its_batch(tmp_path):
    """With ``linger``, the deliveries that arrive shortly after the first join its batch
    (one transaction); without, the first is applied at once, alone."""
    import threading

    def trickle(w):
        w.publish(event()[1])  # one at hand; three follow within the linger
        later = threading.Timer(0.2, lambda: [w.publish(event()[1]) for _ in range(3)])
        later.start()
        w.run(1)
        later.join()

    w = World(tmp_path, linger=3.0, batch=4)
    trickle(w)
    assert w.batches == [4] and len(w.applied()) == 4 and w.commits() == 1
    w.consumer.connection.release()

    eager = World(tmp_path / "eager", batch=4)
    trickle(eager)
    assert len(eager.applied()) == 1 and eager.commits() == 1  # applied alone, at once
    eager.consumer.connection.release()


def test_a_failing_event_is_split_out_and_retried_alone(world):
    sent = [event() for _ in range(5)]
    world.failing.add(sent[2][0])
    for _, body in sent:
        world.publish(body)
    world.run(1)
    # the batch rolled back; one by one, the four others applied once each
    assert world.batches == [5]
    assert world.applied() == [eid for i, (eid, _) in enumerate(sent) if i != 2]
    assert world.outcomes.count("retried") == 1 and world.outcomes.count("applied") == 4
    world.failing.clear()  # the retry (a new delivery, attempt 2) now succeeds
    world.run(1)
    assert sorted(world.applied()) == sorted(eid for eid, _ in sent)


def test_a_poison_message_in_a_batch_is_dead_lettered_and_the_rest_applied(world):
    good = [event() for _ in range(3)]
    world.publish(good[0][1])
    world.publish('{"not": "an event"}')
    world.publish(good[1][1])
    world.publish(good[2][1])
    world.run(1)
    assert world.applied() == [eid for eid, _ in good]
    assert world.outcomes.count("dead_lettered") == 1
    assert world.queued(dead=True) == 1


def test_a_second_copy_in_the_same_batch_or_a_later_one_is_a_duplicate(world):
    eid, body = event()
    other = event()
    world.publish(body)
    world.publish(other[1])
    world.publish(body)
    world.run(1)
    assert world.applied() == [eid, other[0]]
    assert world.outcomes == ["applied", "applied", "duplicate"]
    world.publish(body)
    world.publish(event()[1])
    world.run(1)
    assert world.applied().count(eid) == 1
    assert world.outcomes[3:] == ["duplicate", "applied"]


def test_an_outage_during_a_batch_puts_every_message_back_and_pauses(world):
    sent = [event() for _ in range(4)]
    for _, body in sent:
        world.publish(body)
    world.down = True
    world.run(1)
    assert world.applied() == []  # nothing half-applied
    assert world.consumer.pause.active
    assert world.outcomes == ["requeued"] * 4
    assert world.queued() == 4 and world.queued(dead=True) == 0
    world.down = False
    world.consumer.pause.next_probe = 0  # the loop's next turn probes, resumes and reads
    world.run(1)
    assert not world.consumer.pause.active
    assert sorted(world.applied()) == sorted(eid for eid, _ in sent)
    assert world.outcomes[4:] == ["applied"] * 4


@pytest.mark.parametrize("batch", [1, 50])
def test_no_event_s_id_is_left_on_the_thread_after_it_is_handled(
    tmp_path, caplog, monkeypatch, batch
):
    """A line logged after the deliveries (the worker's own: a reconnect, a pause) belongs
    to no event: it carries no correlation id, one by one or in a batch."""
    import logging

    from shared.logs import CorrelationFilter, acting, correlation_id, service

    w = World(tmp_path, batch=batch)
    for i in range(3):
        w.publish(event(f"c-{i}")[1])
    w.run(1 if batch > 1 else 3)
    assert len(w.applied()) == 3
    assert (correlation_id.get(), acting.get(), service.get()) == ("-", None, None)
    # pytest keeps its capturing handler from test to test: the filter is this test's
    monkeypatch.setattr(caplog.handler, "filters", [CorrelationFilter()])
    with caplog.at_level(logging.INFO):
        logging.getLogger("onestop.test").info("between deliveries")
    [record] = [r for r in caplog.records if r.getMessage() == "between deliveries"]
    assert record.correlation_id == "-" and record.actor == "-"
    w.consumer.connection.release()
