"""Dead letters kept once per queue and body; re-driven through the broker, then marked."""

import json
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import MetaData

from shared import deadletters
from shared.db import Database, UnitOfWork
from shared.events import make_event
from shared.outbox import add_outbox_tables
from tests.factories import accepted_payload


@pytest.fixture
def db(tmp_path):
    metadata = MetaData()
    outbox, _, letters = add_outbox_tables(metadata)
    database = Database(f"sqlite:///{tmp_path / 'svc.db'}", metadata)
    metadata.create_all(database.engine)
    database.outbox, database.letters = outbox, letters
    return database


def headers(at, reason="RuntimeError: boom", attempts=3):
    return {
        "event_type": "demand.accepted",
        "x-onestop-reason": reason,
        "x-onestop-attempts": attempts,
        "x-onestop-failed-at": at.isoformat(),
        "x-onestop-queue": "dispatch.on_demand_accepted",
        "x-onestop-attempt": attempts,
    }


BODY = make_event(
    "demand.accepted", 1, producer="intake", jurisdiction="630102", payload=accepted_payload()
).to_json()
Q = "dispatch.on_demand_accepted"


def test_a_dead_letter_delivered_twice_is_kept_once_and_a_new_failure_is_the_same_row(db):
    first = datetime(2026, 12, 1, 8, tzinfo=UTC)
    assert deadletters.record(db, db.letters, Q, BODY, headers(first))
    assert not deadletters.record(db, db.letters, Q, BODY, headers(first))  # redelivered
    [row] = deadletters.listing(db, db.letters)
    assert (row["times"], row["status"], row["attempts"]) == (1, "dead", 3)
    assert row["event_id"] == json.loads(BODY)["event_id"]
    later = first + timedelta(hours=1)
    assert deadletters.record(db, db.letters, Q, BODY, headers(later, "KeyError: x", 1))
    [row] = deadletters.listing(db, db.letters, status=None)
    assert (row["times"], row["reason"], row["attempts"]) == (2, "KeyError: x", 1)
    assert deadletters.count(db, db.letters) == 1
    # another queue's letter of the same event is its own row
    deadletters.record(db, db.letters, "archive.all_events", BODY, headers(first))
    assert deadletters.count(db, db.letters) == 2


class Publisher:
    def __init__(self, fail=False):
        self.sent = []
        self.fail = fail

    def publish_to_queue(self, queue, body, hdrs):
        if self.fail:
            raise ConnectionError("broker down")
        self.sent.append((queue, body, hdrs))


def test_redrive_publishes_with_the_attempts_reset_then_marks_and_emits(db):
    at = datetime(2026, 12, 1, 8, tzinfo=UTC)
    deadletters.record(db, db.letters, Q, BODY, headers(at))
    deadletters.record(db, db.letters, Q, '{"not": "an event"}', headers(at))

    def uow():
        return UnitOfWork(db, db.outbox)

    with pytest.raises(ConnectionError):  # the broker is down: nothing is marked
        deadletters.redrive(
            uow, db.letters, Publisher(fail=True), service="dispatch", queue=Q, actor="a"
        )
    assert deadletters.count(db, db.letters) == 2
    pub = Publisher()
    out = deadletters.redrive(uow, db.letters, pub, service="dispatch", queue=Q, actor="admin:k1")
    assert out["redriven"] == [1] and out["skipped"][0]["reason"].startswith("not an event")
    [(queue, body, sent)] = pub.sent
    assert queue == Q and body == BODY
    assert sent == {"event_type": "demand.accepted", "x-onestop-redrive": 1}  # attempt reset
    [row] = deadletters.listing(db, db.letters, status="redriven")
    assert row["redriven_by"] == "admin:k1"
    with db.session() as s:
        [emitted] = s.execute(db.outbox.select()).all()
    envelope = json.loads(emitted.body)
    assert emitted.event_type == "dead_letter.redriven" and emitted.producer == "dispatch"
    assert envelope["payload"]["demand_code"] == accepted_payload()["demand_code"]
    assert envelope["payload"]["dead_letter_id"] == 1 and envelope["jurisdiction"] == "630102"
    # a second re-drive finds nothing dead
    again = deadletters.redrive(
        uow, db.letters, Publisher(), service="dispatch", queue=Q, actor="b"
    )
    assert again["redriven"] == []


def test_a_parks_event_is_re_driven_like_any_other(db):
    park = "630102-P0001"
    body = make_event(
        "demand.accepted",
        1,
        producer="intake",
        jurisdiction=park,
        payload=accepted_payload(demand_code=f"{park}-2026-000001"),
    ).to_json()
    deadletters.record(db, db.letters, Q, body, headers(datetime(2026, 12, 1, 8, tzinfo=UTC)))
    pub = Publisher()
    out = deadletters.redrive(
        lambda: UnitOfWork(db, db.outbox), db.letters, pub, service="dispatch", queue=Q, actor="a"
    )
    assert (out["redriven"], out["skipped"]) == ([1], []) and pub.sent[0][1] == body
    with db.session() as s:
        [emitted] = s.execute(db.outbox.select()).all()
    assert emitted.routing_key == "dead_letter.redriven.630000.630100.630102.630102-P0001"
