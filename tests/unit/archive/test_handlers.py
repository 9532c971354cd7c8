"""The archive's consumer: every event appended to the hash chain, once."""

import json

from sqlalchemy import select

from services.archive.domain import GENESIS, canonical, chain_hash
from services.archive.models import archived_events, chain_head
from services.archive.verification import verify
from tests.factories import accepted_payload

t = archived_events


def test_each_event_is_stored_with_its_indexes_and_linked_to_the_one_before(
    uow, archive, event, t0
):
    accepted = event("demand.accepted", accepted_payload(demand_code="630102-2026-000007"), at=t0)
    assigned = event(
        "assignment.made",
        {
            "demand_code": "630102-2026-000007",
            "kind": "owner",
            "assignee_type": "staff",
            "assignee_id": "s1",
            "enterprise_credit_code": "91630102MA7522T5X6",
        },
        at=t0,
        producer="dispatch",
    )
    assert archive([accepted, assigned]) == [True, True]
    with uow.read() as s:
        rows = s.execute(select(t).order_by(t.c.seq)).all()
        head = s.execute(select(chain_head)).one()
    first, second = rows
    assert json.loads(first.body) == accepted.to_dict()
    assert first.body == canonical(accepted.to_dict())
    assert first.prev_hash == GENESIS and first.hash == chain_hash(GENESIS, first.body)
    assert second.prev_hash == first.hash and second.hash == chain_hash(first.hash, second.body)
    assert (first.demand_code, first.credit_code, first.staff_id) == (
        "630102-2026-000007",
        "91630102MA7522T5X6",
        None,
    )
    assert (second.producer, second.staff_id, second.agency_id) == ("dispatch", "s1", None)
    assert (head.length, head.last_seq, head.last_hash) == (2, second.seq, second.hash)
    assert uow.committed == []  # the archive keeps events; it emits none


def test_duplicates_are_not_archived_twice(uow, archive, ten_demands, event, t0):
    ev = event("demand.accepted", accepted_payload(), at=t0)
    assert archive([ev]) == [True]
    assert archive([ev]) == [False]
    assert verify(uow, None)["checked"] == 11


def test_a_consumers_batch_is_appended_in_one_transaction_and_the_chain_holds(
    uow, archive, event, t0
):
    """Batches (one transaction, the head carried from append to append) and single
    appends, interleaved: one unbroken chain, the head counting every record, and a
    duplicate in a batch appended once."""
    from services.archive.handlers import on_any_event
    from services.archive.models import metadata
    from shared.outbox import Inbox
    from tests.unit.archive.conftest import CONSUMER

    inbox = Inbox(metadata.tables["processed_events"])
    events = [
        event("demand.accepted", accepted_payload(demand_code=f"630102-2026-{i:06d}"), at=t0)
        for i in range(1, 13)
    ]
    assert archive(events[:2]) == [True, True]
    assert inbox.apply_batch(lambda: uow, CONSUMER, events[2:7], on_any_event) == [True] * 5
    assert archive(events[7:8]) == [True]
    batch = [*events[8:], events[8], events[0]]  # a copy in the batch, one archived before
    assert inbox.apply_batch(lambda: uow, CONSUMER, batch, on_any_event) == [True] * 4 + [
        False,
        False,
    ]
    with uow.read() as s:
        rows = s.execute(select(t).order_by(t.c.seq)).all()
        head = s.execute(select(chain_head)).one()
    assert [r.event_id for r in rows] == [e.event_id for e in events]
    prev = GENESIS
    for r in rows:
        assert r.prev_hash == prev and r.hash == chain_hash(prev, r.body)
        prev = r.hash
    assert (head.length, head.last_seq, head.last_hash) == (12, rows[-1].seq, rows[-1].hash)
    verified = verify(uow, None)
    assert (verified["checked"], verified["first_mismatch"]) == (12, None)
