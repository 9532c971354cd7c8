"""Tampering with any stored record — its content, its index, its place, its existence —
is detected at that record by verify."""

import pytest
from sqlalchemy import delete, select, update

from onestop import migrate
from services import archive
from services.archive.handlers import on_any_event, verify
from services.archive.models import archived_events, chain_head
from shared.events import make_event
from tests.factories import accepted_payload

t = archived_events


@pytest.fixture
def svc(embedded_settings):
    migrate.upgrade(embedded_settings, ("archive",))
    svc = archive.build(embedded_settings)
    for i in range(1, 11):
        ev = make_event(
            "demand.accepted",
            1,
            producer="intake",
            jurisdiction="630102",
            payload=accepted_payload(demand_code=f"630102-2026-{i:06d}"),
        )
        assert svc.inbox.apply(svc.uow, "archive.all_events", ev, on_any_event)
    return svc


def tamper(svc, stmt):
    with svc.db.write_session() as s:
        s.execute(stmt)
        s.commit()


def seqs(svc):
    with svc.db.session() as s:
        return list(s.execute(select(t.c.seq).order_by(t.c.seq)).scalars())


def test_an_intact_chain_verifies(svc):
    result = verify(svc)
    assert result["ok"] and result["checked"] == 10 and result["first_mismatch"] is None


def test_an_edited_record_is_named(svc):
    fifth = seqs(svc)[4]
    with svc.db.session() as s:
        body = s.execute(select(t.c.body).where(t.c.seq == fifth)).scalar_one()
    tamper(svc, update(t).where(t.c.seq == fifth).values(body=body.replace('"t"', '"T"')))
    bad = verify(svc)["first_mismatch"]
    assert bad["seq"] == fifth and "edited" in bad["reason"]


def test_an_edit_with_a_recomputed_hash_breaks_the_next_link(svc):
    from services.archive.domain import chain_hash

    fifth, sixth = seqs(svc)[4:6]
    with svc.db.session() as s:
        row = s.execute(select(t).where(t.c.seq == fifth)).one()
    body = row.body.replace('"t"', '"T"')
    tamper(
        svc,
        update(t).where(t.c.seq == fifth).values(body=body, hash=chain_hash(row.prev_hash, body)),
    )
    bad = verify(svc)["first_mismatch"]
    assert bad["seq"] == sixth and "does not follow" in bad["reason"]


def test_a_deleted_record_is_named_by_the_one_after_it(svc):
    third, fourth = seqs(svc)[2:4]
    tamper(svc, delete(t).where(t.c.seq == third))
    bad = verify(svc)["first_mismatch"]
    assert bad["seq"] == fourth and "deleted" in bad["reason"]


def test_reordered_records_are_named(svc):
    s2, s3 = seqs(svc)[1:3]
    with svc.db.session() as s:
        a = s.execute(select(t).where(t.c.seq == s2)).mappings().one()
        b = s.execute(select(t).where(t.c.seq == s3)).mappings().one()
    swap = ("event_id", "body", "prev_hash", "hash", "demand_code")
    tamper(svc, update(t).where(t.c.seq == s2).values(event_id="tmp"))
    tamper(svc, update(t).where(t.c.seq == s3).values(**{k: a[k] for k in swap}))
    tamper(svc, update(t).where(t.c.seq == s2).values(**{k: b[k] for k in swap}))
    bad = verify(svc)["first_mismatch"]
    assert bad["seq"] == s2 and "does not follow" in bad["reason"]


def test_the_newest_records_deleted_are_caught_by_the_head(svc):
    last = seqs(svc)[-1]
    tamper(svc, delete(t).where(t.c.seq == last))
    bad = verify(svc)["first_mismatch"]
    assert bad["seq"] == last and "newest records deleted" in bad["reason"]


def test_an_edited_index_column_is_named(svc):
    seventh = seqs(svc)[6]
    tamper(svc, update(t).where(t.c.seq == seventh).values(jurisdiction="630103"))
    bad = verify(svc)["first_mismatch"]
    assert bad["seq"] == seventh and "jurisdiction" in bad["reason"]


def test_a_missing_head_is_reported(svc):
    tamper(svc, delete(chain_head))
    assert "head" in verify(svc)["first_mismatch"]["reason"]


def test_duplicates_are_not_archived_twice(svc):
    ev = make_event(
        "demand.accepted", 1, producer="intake", jurisdiction="630102", payload=accepted_payload()
    )
    assert svc.inbox.apply(svc.uow, "archive.all_events", ev, on_any_event)
    assert not svc.inbox.apply(svc.uow, "archive.all_events", ev, on_any_event)
    assert verify(svc)["checked"] == 11
