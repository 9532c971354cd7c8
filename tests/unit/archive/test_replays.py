"""Replay: archived events re-published to one consumer queue, only those its bindings
would have routed there, marked as replays (fake unit of work, fake publisher)."""

import json

import pytest

from services.archive.replays import replay, routed, routing_key_of
from shared.errors import status_of
from shared.usecases import Forbidden, Invalid
from tests.fakes import actor

QUEUES = {
    "visits.on_demand_accepted": [("intake", "demand.accepted.#")],
    "scoring.on_assignment_made": [("dispatch", "assignment.made.#")],
    "haidong.on_demand_accepted": [("intake", "demand.accepted.630000.630200.#")],
}


class FakePublisher:
    def __init__(self):
        self.opened = 0
        self.sent = []
        self.closed = False

    def open(self):
        self.opened += 1
        return self

    def publish_to_queue(self, queue, body, headers):
        self.sent.append((queue, json.loads(body), headers))

    def close(self):
        self.closed = True


@pytest.fixture
def publisher():
    return FakePublisher()


@pytest.fixture
def connect(publisher):
    """Opens the fake publisher (``publisher.opened`` counts how often)."""
    return publisher.open


def test_the_routing_key_is_the_type_then_the_jurisdiction_path():
    envelope = {"event_type": "demand.accepted", "jurisdiction": "630102", "producer": "intake"}
    assert routing_key_of(envelope) == "demand.accepted.630000.630100.630102"
    assert routed(envelope, QUEUES["visits.on_demand_accepted"])
    assert not routed(envelope, QUEUES["scoring.on_assignment_made"])
    assert not routed(envelope, QUEUES["haidong.on_demand_accepted"])
    assert not routed({**envelope, "producer": "visits"}, QUEUES["visits.on_demand_accepted"])


def test_the_queues_events_are_sent_oldest_first_marked_as_replays(
    uow, ten_demands, publisher, connect
):
    result = replay(
        uow, None, {"queue": "visits.on_demand_accepted"}, queues=QUEUES, connect=connect
    )
    assert result == {"queue": "visits.on_demand_accepted", "sent": 10, "not_routed": 0}
    assert [body["event_id"] for _, body, _ in publisher.sent] == [e.event_id for e in ten_demands]
    queue, body, headers = publisher.sent[0]
    assert queue == "visits.on_demand_accepted" and body["replay"] is True
    assert {k: v for k, v in body.items() if k != "replay"} == ten_demands[0].to_dict()
    assert headers == {
        "event_id": ten_demands[0].event_id,
        "event_type": "demand.accepted",
        "x-onestop-replay": True,
    }
    assert publisher.closed and publisher.opened == 1


def test_events_the_queue_would_not_have_received_are_counted_not_sent(
    uow, ten_demands, publisher, connect
):
    for queue in ("scoring.on_assignment_made", "haidong.on_demand_accepted"):
        result = replay(uow, None, {"queue": queue}, queues=QUEUES, connect=connect)
        assert (result["sent"], result["not_routed"]) == (0, 10)
    filtered = replay(
        uow,
        None,
        {"queue": "visits.on_demand_accepted", "types": ["visit.logged"]},
        queues=QUEUES,
        connect=connect,
    )
    assert (filtered["sent"], filtered["not_routed"]) == (0, 0)  # filtered out, not counted
    assert publisher.sent == []


def test_an_unknown_queue_is_invalid_before_the_broker_is_touched(
    uow, ten_demands, publisher, connect
):
    with pytest.raises(Invalid) as refused:
        replay(uow, None, {"queue": "scoring.nowhere"}, queues=QUEUES, connect=connect)
    assert status_of(refused.value) == 422
    assert refused.value.message == "Unknown consumer queue 'scoring.nowhere'."
    assert refused.value.fields == {
        "json": {
            "queue": [
                "one of haidong.on_demand_accepted, scoring.on_assignment_made, "
                "visits.on_demand_accepted"
            ]
        }
    }
    assert publisher.opened == 0


def test_a_subtree_outside_the_actors_is_forbidden_before_the_broker_is_touched(
    uow, ten_demands, publisher, connect
):
    command = {"queue": "visits.on_demand_accepted", "jurisdiction": "630104"}
    with pytest.raises(Forbidden):
        replay(uow, actor("admin", "630102"), command, queues=QUEUES, connect=connect)
    assert publisher.opened == 0
    mine = replay(
        uow,
        actor("admin", "630102"),
        {**command, "jurisdiction": None},
        queues=QUEUES,
        connect=connect,
    )
    assert mine["sent"] == 10 and publisher.opened == 1


def test_a_queue_without_bindings_is_invalid_before_the_broker_is_touched(
    uow, ten_demands, publisher, connect
):
    with pytest.raises(Invalid) as refused:
        replay(uow, None, {"queue": "lonely"}, queues={"lonely": []}, connect=connect)
    assert status_of(refused.value) == 422
    assert "no bindings" in refused.value.message and publisher.opened == 0


def test_why_nothing_was_sent_names_the_queues_bindings():
    from services.archive.replays import not_routed_reason

    bindings = QUEUES["scoring.on_assignment_made"]
    nothing = {"queue": "scoring.on_assignment_made", "sent": 0, "not_routed": 36}
    reason = not_routed_reason(nothing, bindings)
    assert reason is not None
    assert "none of the 36" in reason and "'scoring.on_assignment_made'" in reason
    assert "dispatch: assignment.made.#" in reason
    assert not_routed_reason({**nothing, "sent": 1}, bindings) is None
    assert not_routed_reason({**nothing, "not_routed": 0}, bindings) is None  # none selected
