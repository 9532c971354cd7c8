"""Outbox relay and inbox on SQLite with a fake publisher."""

import threading

import pytest
from sqlalchemy import select

from onestop import migrate
from services import intake
from shared.events import make_event
from shared.messaging import Outgoing, Unconfirmed
from tests.factories import accepted_payload, stage


class FakePublisher:
    """Confirms every message, or only the first ``fail_after`` it is ever given (the
    rest of that batch unconfirmed, as after a nack or a lost connection)."""

    def __init__(self, fail_after=None):
        self.sent = []
        self.batches = []
        self.fail_after = fail_after

    def publish(self, exchange, routing_key, body, headers):
        self.publish_batch([Outgoing(exchange, routing_key, body, headers)])

    def publish_batch(self, messages):
        self.batches.append(len(messages))
        for i, m in enumerate(messages):
            if self.fail_after is not None and len(self.sent) >= self.fail_after:
                raise Unconfirmed(i) from ConnectionError("broker unreachable")
            self.sent.append((m.exchange.name, m.routing_key, m.headers["event_id"]))


@pytest.fixture
def live_svc(embedded_settings):
    migrate.upgrade(embedded_settings, ("intake",))
    return intake.build(embedded_settings)


@pytest.fixture
def svc(live_svc, monkeypatch):
    """The relay only runs when a test calls it (no wake-up thread)."""
    monkeypatch.setattr(live_svc.relay, "notify", lambda: None)
    return live_svc


def test_events_are_written_in_the_transaction_and_nothing_on_rollback(svc):
    svc.relay._publisher = FakePublisher()  # never used here
    with svc.uow() as uow:
        uow.emit(
            make_event(
                "demand.accepted",
                1,
                producer="intake",
                jurisdiction="630102",
                payload=accepted_payload(),
            )
        )
        # no commit: leaving the block rolls back
    assert svc.relay.pending() == 0
    stage(svc, 2)
    assert svc.relay.pending() == 2


def test_relay_publishes_in_order_and_marks_published(svc):
    ids = stage(svc, 3)
    pub = FakePublisher()
    svc.relay._publisher_factory = lambda: pub
    assert svc.relay.publish_pending() == 3
    assert [e for _, _, e in pub.sent] == ids
    assert pub.sent[0][0] == "onestop.intake"
    assert pub.sent[0][1] == "demand.accepted.630000.630100.630102"
    assert svc.relay.pending() == 0
    assert svc.relay.publish_pending() == 0


def test_rows_stay_pending_until_the_broker_confirms(svc):
    ids = stage(svc, 3)
    failing = FakePublisher(fail_after=1)
    svc.relay._publisher_factory = lambda: failing
    with pytest.raises(Unconfirmed):
        svc.relay.publish_pending()
    assert svc.relay.pending() == 2  # only the confirmed one is marked
    ok = FakePublisher()
    svc.relay._publisher = None
    svc.relay._publisher_factory = lambda: ok
    assert svc.relay.drain(timeout=5)
    assert [e for _, _, e in ok.sent] == ids[1:]
    row = (
        svc.db.session()
        .execute(select(svc.outbox.c.attempts).where(svc.outbox.c.event_id == ids[1]))
        .scalar()
    )
    assert row == 1


def test_relay_publishes_a_batch_at_a_time_and_waits_once_per_batch(svc):
    ids = stage(svc, 5)
    pub = FakePublisher()
    svc.relay._publisher_factory = lambda: pub
    svc.relay.batch = 2
    assert svc.relay.drain(timeout=5)
    assert pub.batches == [2, 2, 1]  # one publish_batch, so one wait for confirms, each
    assert [e for _, _, e in pub.sent] == ids


def attempts(svc):
    with svc.db.session() as s:
        return dict(s.execute(select(svc.outbox.c.event_id, svc.outbox.c.attempts)).all())


def test_a_batch_confirmed_in_part_marks_the_confirmed_rows_and_resends_the_rest_in_order(svc):
    ids = stage(svc, 5)
    counted = []
    svc.relay._on_published = lambda producer, event_type: counted.append(event_type)
    svc.relay._publisher_factory = lambda: FakePublisher(fail_after=2)  # a nack at the 3rd
    with pytest.raises(Unconfirmed) as raised:
        svc.relay.publish_pending()
    assert raised.value.confirmed == 2
    assert svc.relay.pending() == 3
    assert counted == ["demand.accepted"] * 2  # only what the broker confirmed
    assert attempts(svc) == {**dict.fromkeys(ids, 0), ids[2]: 1}
    ok = FakePublisher()
    svc.relay._publisher = None
    svc.relay._publisher_factory = lambda: ok
    assert svc.relay.publish_pending() == 3
    assert [e for _, _, e in ok.sent] == ids[2:]  # the unconfirmed ones, still in order
    assert svc.relay.pending() == 0


class BrokenPublisher:
    def publish_batch(self, messages):
        raise OSError("connection reset")


def test_a_batch_failing_with_nothing_known_confirmed_leaves_every_row_pending(svc):
    ids = stage(svc, 3)
    svc.relay._publisher_factory = BrokenPublisher
    with pytest.raises(OSError):
        svc.relay.publish_pending()
    assert svc.relay.pending() == 3
    assert attempts(svc) == {**dict.fromkeys(ids, 0), ids[0]: 1}


def test_a_failed_round_is_counted_by_its_cause_and_the_rows_wait(svc):
    """The relay's failures reach /metrics (onestop_relay_failures_total{service, cause}):
    an outage as ``unavailable``, anything else as ``error``; the rows stay pending."""
    from shared import metrics

    def count(cause):
        return metrics.RELAY_FAILURES.labels("intake", cause)._value.get()

    stage(svc, 2)
    before = {cause: count(cause) for cause in ("unavailable", "error")}
    svc.relay._publisher_factory = lambda: FakePublisher(fail_after=0)  # broker unreachable
    svc.relay._round(woken=True)

    def broken():
        raise ValueError("a bug, not an outage")

    svc.relay._publisher_factory = broken
    svc.relay._round(woken=True)
    assert count("unavailable") == before["unavailable"] + 1
    assert count("error") == before["error"] + 1
    assert svc.relay.pending() == 2


def test_commit_wakes_the_relay(live_svc):
    svc = live_svc
    pub = FakePublisher()
    published = threading.Event()
    svc.relay._publisher_factory = lambda: pub
    svc.relay._on_published = lambda *_: published.set()
    svc.relay.sweep_interval = 30  # only the wake-up can make this fast
    stage(svc, 1)
    assert published.wait(5)
    svc.relay.stop()
    assert svc.relay.pending() == 0


def test_inbox_applies_once_and_rolls_back_with_the_effect(svc):
    from services.intake.models import enterprises

    ev = make_event(
        "demand.accepted", 1, producer="intake", jurisdiction="630102", payload=accepted_payload()
    )
    calls = []

    def handler(event, uow):
        calls.append(event.event_id)
        uow.session.execute(
            enterprises.insert().values(
                credit_code=f"X{len(calls):017d}",
                name="n",
                jurisdiction="630102",
                created_at=event.occurred_at,
            )
        )

    assert svc.inbox.apply(svc.uow, "t.c", ev, handler) is True
    assert svc.inbox.apply(svc.uow, "t.c", ev, handler) is False
    assert svc.inbox.apply(svc.uow, "other.consumer", ev, handler) is True
    assert len(calls) == 2

    def boom(event, uow):
        handler(event, uow)
        raise RuntimeError("fail after the effect")

    ev2 = make_event(
        "demand.accepted", 1, producer="intake", jurisdiction="630102", payload=accepted_payload()
    )
    with pytest.raises(RuntimeError):
        svc.inbox.apply(svc.uow, "t.c", ev2, boom)
    with svc.db.session() as s:
        assert s.execute(select(enterprises)).all().__len__() == 2  # effect rolled back
    assert svc.inbox.apply(svc.uow, "t.c", ev2, handler) is True  # not marked processed


def test_prepare_reads_once_for_the_new_events_of_a_batch_before_its_handlers(svc):
    """``prepare(uow, events)``: once per transaction, before any handler, with the
    events that are new (no duplicate, one copy of each), its reads kept in ``uow.memo``."""
    a, b, c = (
        make_event(
            "demand.accepted", 1, producer="intake", jurisdiction="630102",
            payload=accepted_payload(),
        )
        for _ in range(3)
    )  # fmt: skip
    assert svc.inbox.apply(svc.uow, "t.p", a, lambda event, uow: None) is True  # a is done
    calls = []

    def prepare(uow, events):
        calls.append(("prepare", [e.event_id for e in events]))
        uow.memo["seen"] = len(events)

    def handler(event, uow):
        calls.append(("handle", event.event_id, uow.memo["seen"]))

    applied = svc.inbox.apply_batch(svc.uow, "t.p", [a, b, c, b], handler, prepare=prepare)
    assert applied == [False, True, True, False]
    assert calls == [
        ("prepare", [b.event_id, c.event_id]),
        ("handle", b.event_id, 2),
        ("handle", c.event_id, 2),
    ]
    calls.clear()
    assert svc.inbox.apply_batch(svc.uow, "t.p", [a, b], handler, prepare=prepare) == [
        False,
        False,
    ]
    assert calls == []  # nothing new: nothing to read
    d = make_event(
        "demand.accepted", 1, producer="intake", jurisdiction="630102", payload=accepted_payload()
    )
    assert svc.inbox.apply(svc.uow, "t.p", d, handler, prepare) is True  # one at a time
    assert calls == [("prepare", [d.event_id]), ("handle", d.event_id, 1)]
