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
