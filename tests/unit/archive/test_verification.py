"""Tampering with any stored record — its content, its index, its place, its existence —
is detected at that record by verify."""

import pytest
from sqlalchemy import delete, select, update

from services.archive.domain import chain_hash
from services.archive.models import archived_events, chain_head
from services.archive.verification import links, verify
from shared.errors import status_of
from shared.usecases import Forbidden
from tests.fakes import actor

t = archived_events


@pytest.fixture
def chain(uow, ten_demands):
    """Ten records in the chain."""
    return uow


def tamper(uow, stmt):
    with uow.db.write_session() as s:
        s.execute(stmt)
        s.commit()


def seqs(uow):
    with uow.read() as s:
        return list(s.execute(select(t.c.seq).order_by(t.c.seq)).scalars())


def test_an_intact_chain_verifies(chain):
    result = verify(chain, None)
    assert result["ok"] and result["checked"] == 10 and result["first_mismatch"] is None


def test_an_edited_record_is_named(chain):
    fifth = seqs(chain)[4]
    with chain.read() as s:
        body = s.execute(select(t.c.body).where(t.c.seq == fifth)).scalar_one()
    tamper(chain, update(t).where(t.c.seq == fifth).values(body=body.replace('"t"', '"T"')))
    bad = verify(chain, None)["first_mismatch"]
    assert bad["seq"] == fifth and "edited" in bad["reason"]


def test_an_edit_with_a_recomputed_hash_breaks_the_next_link(chain):
    fifth, sixth = seqs(chain)[4:6]
    with chain.read() as s:
        row = s.execute(select(t).where(t.c.seq == fifth)).one()
    body = row.body.replace('"t"', '"T"')
    tamper(
        chain,
        update(t).where(t.c.seq == fifth).values(body=body, hash=chain_hash(row.prev_hash, body)),
    )
    bad = verify(chain, None)["first_mismatch"]
    assert bad["seq"] == sixth and "does not follow" in bad["reason"]


def test_a_deleted_record_is_named_by_the_one_after_it(chain):
    third, fourth = seqs(chain)[2:4]
    tamper(chain, delete(t).where(t.c.seq == third))
    bad = verify(chain, None)["first_mismatch"]
    assert bad["seq"] == fourth and "deleted" in bad["reason"]


def test_reordered_records_are_named(chain):
    s2, s3 = seqs(chain)[1:3]
    with chain.read() as s:
        a = s.execute(select(t).where(t.c.seq == s2)).mappings().one()
        b = s.execute(select(t).where(t.c.seq == s3)).mappings().one()
    swap = ("event_id", "body", "prev_hash", "hash", "demand_code")
    tamper(chain, update(t).where(t.c.seq == s2).values(event_id="tmp"))
    tamper(chain, update(t).where(t.c.seq == s3).values(**{k: a[k] for k in swap}))
    tamper(chain, update(t).where(t.c.seq == s2).values(**{k: b[k] for k in swap}))
    bad = verify(chain, None)["first_mismatch"]
    assert bad["seq"] == s2 and "does not follow" in bad["reason"]


def test_the_newest_records_deleted_are_caught_by_the_head(chain):
    last = seqs(chain)[-1]
    tamper(chain, delete(t).where(t.c.seq == last))
    bad = verify(chain, None)["first_mismatch"]
    assert bad["seq"] == last and "newest records deleted" in bad["reason"]


def test_an_edited_index_column_is_named(chain):
    seventh = seqs(chain)[6]
    tamper(chain, update(t).where(t.c.seq == seventh).values(jurisdiction="630103"))
    bad = verify(chain, None)["first_mismatch"]
    assert bad["seq"] == seventh and "jurisdiction" in bad["reason"]


def test_a_missing_head_is_reported(chain):
    tamper(chain, delete(chain_head))
    assert "head" in verify(chain, None)["first_mismatch"]["reason"]


def test_an_empty_chain_verifies(uow):
    result = verify(uow, None)
    assert result["ok"] and result["checked"] == 0 and result["first_mismatch"] is None


def test_the_walk_reads_in_batches_and_stops_at_the_first_break(chain):
    assert [link.seq for link in links(chain, batch=3)] == seqs(chain)
    fourth = seqs(chain)[3]
    tamper(chain, update(t).where(t.c.seq == fourth).values(producer="visits"))
    result = verify(chain, None, batch=3)
    assert result["checked"] == 3 and result["first_mismatch"]["seq"] == fourth


def test_only_a_provinces_administrators_may_verify(chain):
    assert verify(chain, actor("admin", "630000"))["ok"]
    for role, where in (("admin", "630100"), ("admin", "630102"), ("district", "630102")):
        with pytest.raises(Forbidden) as refused:
            verify(chain, actor(role, where))
        assert status_of(refused.value) == 403
        message = refused.value.message
        assert f"Your key is {role} of {where}." in message
        assert "platform-wide" in message and "onestop_archive_last_verify_ok" in message


def test_records_appended_while_the_chain_is_walked_are_not_a_break(
    chain, archive, event, t0, monkeypatch
):
    """The walk covers exactly what the head it read counts: an append racing with a verify
    (the worker keeps archiving meanwhile) is never taken for deleted records."""
    from datetime import timedelta

    from services.archive import verification
    from tests.factories import accepted_payload

    real = verification.read_head

    def an_append_then_the_head(uow):
        at = t0 + timedelta(days=1)
        late = accepted_payload(demand_code="630102-2026-000011", accepted_at=at.isoformat())
        assert archive([event("demand.accepted", late, at=at)]) == [True]
        return real(uow)

    monkeypatch.setattr(verification, "read_head", an_append_then_the_head)
    result = verify(chain, None)
    assert result["ok"], result["first_mismatch"]
    assert result["checked"] == 11
