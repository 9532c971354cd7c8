"""Tampering with any stored record — its content, its index, its place, its existence —
is detected at that record by verify: by the first verify that reaches it, and by a full
walk over records that checkpoints already cover (re-checked from their stored bytes)."""

from datetime import timedelta

import pytest
from sqlalchemy import delete, select, update

from services.archive.domain import chain_hash
from services.archive.models import archived_events, chain_checkpoints, chain_head
from services.archive.verification import links, verify
from shared.errors import status_of
from shared.usecases import Forbidden
from tests.factories import accepted_payload
from tests.fakes import actor

t = archived_events
cp = chain_checkpoints


@pytest.fixture(params=[False, True], ids=["unverified", "checkpointed"])
def checkpointed(request):
    """Whether the chain was verified as it grew (checkpoints after the 5th and 10th)."""
    return request.param


@pytest.fixture
def append(archive, event, t0):
    """``append(n)``: ``n`` more demands accepted in 630102, an hour apart, archived."""
    made = []

    def more(n):
        for _ in range(n):
            i = len(made) + 1
            at = t0 + timedelta(hours=i)
            payload = accepted_payload(
                demand_code=f"630102-2026-{i:06d}", accepted_at=at.isoformat()
            )
            made.append(event("demand.accepted", payload, at=at))
            assert archive([made[-1]]) == [True]

    return more


@pytest.fixture
def chain(uow, append, checkpointed):
    """Ten records in the chain, unverified or with checkpoints at the 5th and the 10th."""
    for _ in range(2):
        append(5)
        if checkpointed:
            assert verify(uow, None)["ok"]
    return uow


def check(chain, checkpointed, **kw):
    """What verify finds: the first verify over an unverified chain, a full walk (from
    the records' stored bytes and the checkpoints, 3 records a batch) over a verified one."""
    return verify(chain, None, full=checkpointed, batch=3, **kw)


def tamper(uow, stmt):
    with uow.db.write_session() as s:
        s.execute(stmt)
        s.commit()


def seqs(uow):
    with uow.read() as s:
        return list(s.execute(select(t.c.seq).order_by(t.c.seq)).scalars())


def checkpoints(uow):
    with uow.read() as s:
        return s.execute(select(cp).order_by(cp.c.seq)).mappings().all()


def test_an_intact_chain_verifies(chain, checkpointed):
    result = check(chain, checkpointed)
    assert result["ok"] and result["checked"] == 10 and result["first_mismatch"] is None
    assert result["walked"] == 10 and result["full"] is checkpointed


def test_an_edited_record_is_named(chain, checkpointed):
    fifth = seqs(chain)[4]
    with chain.read() as s:
        body = s.execute(select(t.c.body).where(t.c.seq == fifth)).scalar_one()
    tamper(chain, update(t).where(t.c.seq == fifth).values(body=body.replace('"t"', '"T"')))
    bad = check(chain, checkpointed)["first_mismatch"]
    assert bad["seq"] == fifth and "edited" in bad["reason"]


def test_an_edit_with_a_recomputed_hash_breaks_the_next_link(chain, checkpointed):
    third, fourth = seqs(chain)[2:4]
    with chain.read() as s:
        row = s.execute(select(t).where(t.c.seq == third)).one()
    body = row.body.replace('"t"', '"T"')
    tamper(
        chain,
        update(t).where(t.c.seq == third).values(body=body, hash=chain_hash(row.prev_hash, body)),
    )
    bad = check(chain, checkpointed)["first_mismatch"]
    assert bad["seq"] == fourth and "does not follow" in bad["reason"]


def test_a_deleted_record_is_named_by_the_one_after_it(chain, checkpointed):
    third, fourth = seqs(chain)[2:4]
    tamper(chain, delete(t).where(t.c.seq == third))
    bad = check(chain, checkpointed)["first_mismatch"]
    assert bad["seq"] == fourth and "deleted" in bad["reason"]


def test_reordered_records_are_named(chain, checkpointed):
    s2, s3 = seqs(chain)[1:3]
    with chain.read() as s:
        a = s.execute(select(t).where(t.c.seq == s2)).mappings().one()
        b = s.execute(select(t).where(t.c.seq == s3)).mappings().one()
    swap = ("event_id", "body", "prev_hash", "hash", "demand_code")
    tamper(chain, update(t).where(t.c.seq == s2).values(event_id="tmp"))
    tamper(chain, update(t).where(t.c.seq == s3).values(**{k: a[k] for k in swap}))
    tamper(chain, update(t).where(t.c.seq == s2).values(**{k: b[k] for k in swap}))
    bad = check(chain, checkpointed)["first_mismatch"]
    assert bad["seq"] == s2 and "does not follow" in bad["reason"]


def test_the_newest_records_deleted_are_caught_by_the_head(chain, checkpointed):
    last = seqs(chain)[-1]
    tamper(chain, delete(t).where(t.c.seq == last))
    bad = check(chain, checkpointed)["first_mismatch"]
    assert bad["seq"] == last
    if checkpointed:  # the last checkpoint ended there
        assert "the checkpoint at record" in bad["reason"] and "missing (deleted)" in bad["reason"]
    else:
        assert "newest records deleted" in bad["reason"]


def test_an_edited_index_column_is_named(chain, checkpointed):
    seventh = seqs(chain)[6]
    tamper(chain, update(t).where(t.c.seq == seventh).values(jurisdiction="630103"))
    bad = check(chain, checkpointed)["first_mismatch"]
    assert bad["seq"] == seventh and "jurisdiction" in bad["reason"]


def test_a_missing_head_is_reported(chain, checkpointed):
    tamper(chain, delete(chain_head))
    assert "head" in check(chain, checkpointed)["first_mismatch"]["reason"]


def test_an_empty_chain_verifies(uow):
    result = verify(uow, None)
    assert result["ok"] and result["checked"] == 0 and result["first_mismatch"] is None


def test_the_walk_reads_in_batches_and_stops_at_the_first_break(chain, checkpointed):
    assert [link.seq for link in links(chain, batch=3)] == seqs(chain)
    fourth = seqs(chain)[3]
    tamper(chain, update(t).where(t.c.seq == fourth).values(producer="visits"))
    result = check(chain, checkpointed)
    assert result["checked"] == 3 and result["first_mismatch"]["seq"] == fourth
    assert "indexed producer" in result["first_mismatch"]["reason"]


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
):  # with or without checkpoints: a routine verify
    """The walk covers exactly what the head it read counts: an append racing with a verify
    (the worker keeps archiving meanwhile) is never taken for deleted records."""
    from services.archive import verification

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


# --- checkpoints: a routine verify walks only what is new, a full walk everything ----------


@pytest.fixture
def verified(uow, append):
    """Ten records, verified after the 5th and the 10th: checkpoints at both."""
    for _ in range(2):
        append(5)
        assert verify(uow, None)["ok"]
    return uow


def test_a_verify_that_finds_the_chain_intact_records_a_checkpoint_where_it_ended(uow, append):
    append(10)
    tenth = seqs(uow)[-1]
    result = verify(uow, None)
    (made,) = checkpoints(uow)
    assert (made.seq, made.length, made.prev_digest) == (tenth, 10, "0" * 64)
    assert result["checkpoint"] == {"seq": tenth, "length": 10, "digest": made.digest}
    assert verify(uow, None)["checkpoint"] == result["checkpoint"]  # nothing new: none more
    tamper(uow, update(t).where(t.c.seq == tenth).values(producer="visits"))
    append(1)
    assert verify(uow, None, full=True)["checkpoint"] is None  # a broken chain: none
    assert len(checkpoints(uow)) == 1


def test_a_routine_verify_walks_only_what_is_new(verified, append):
    append(2)
    result = verify(verified, None)
    assert result["ok"] and (result["checked"], result["walked"]) == (12, 2)
    assert [c.seq for c in checkpoints(verified)] == seqs(verified)[4::5] + seqs(verified)[-1:]
    again = verify(verified, None)
    assert again["ok"] and (again["checked"], again["walked"]) == (12, 0)


def test_only_records_no_checkpoint_covers_are_parsed(verified, append, monkeypatch):
    """A full walk re-checks checkpointed records from their stored bytes: only the
    records after the newest checkpoint go through the record-by-record walk."""
    from services.archive import verification

    parsed, real = [], verification.walk

    def counting(links, *args):
        links = list(links)
        parsed.extend(x.seq for x in links)
        return real(links, *args)

    monkeypatch.setattr(verification, "walk", counting)
    assert verify(verified, None, full=True, batch=3)["walked"] == 10 and parsed == []
    append(2)
    assert verify(verified, None, full=True, batch=3)["walked"] == 12
    assert parsed == seqs(verified)[-2:]


def _edit_body(uow, seq):
    with uow.read() as s:
        body = s.execute(select(t.c.body).where(t.c.seq == seq)).scalar_one()
    tamper(uow, update(t).where(t.c.seq == seq).values(body=body.replace('"t"', '"T"')))


IN_PLACE = {  # an old record changed without recomputing any hash: (change, seq named, why)
    "body edited": (_edit_body, 0, "its content does not match its hash (edited)"),
    "column edited": (
        lambda uow, seq: tamper(uow, update(t).where(t.c.seq == seq).values(staff_id="s9")),
        0,
        "its indexed staff_id does not match its content (edited)",
    ),
    "record deleted": (
        lambda uow, seq: tamper(uow, delete(t).where(t.c.seq == seq)),
        1,
        "the record before it is missing (deleted)",
    ),
}


@pytest.mark.parametrize("change", IN_PLACE)
def test_an_old_record_changed_in_place_is_for_the_full_walk_to_find(verified, change):
    """Documented: a routine verify does not look before its checkpoint; the full walk
    names the record, as the first verify would have."""
    tamper_with, named, why = IN_PLACE[change]
    third = seqs(verified)[2]
    after = seqs(verified)[2 + named]
    tamper_with(verified, third)
    assert verify(verified, None)["ok"]
    full = verify(verified, None, full=True, batch=3)
    assert full["first_mismatch"] == {
        "seq": after,
        "event_id": full["first_mismatch"]["event_id"],
        "reason": why,
    }
    assert full["checked"] == 2 and not full["ok"]


def test_history_rewritten_with_recomputed_hashes_is_caught_by_a_routine_verify(verified):
    """Editing an old record and recomputing every hash after it (and the head) keeps the
    chain linked, but not the hash the newest checkpoint recorded."""
    all_seqs = seqs(verified)
    _edit_body(verified, all_seqs[2])
    prev = None
    for seq in all_seqs[2:]:
        with verified.read() as s:
            row = s.execute(select(t).where(t.c.seq == seq)).one()
        prev_hash = prev or row.prev_hash
        prev = chain_hash(prev_hash, row.body)
        tamper(verified, update(t).where(t.c.seq == seq).values(prev_hash=prev_hash, hash=prev))
    tamper(verified, update(chain_head).values(last_hash=prev))
    routine = verify(verified, None)["first_mismatch"]
    assert (
        routine["seq"] == all_seqs[-1]
        and "(the records up to it were rewritten)" in (routine["reason"])
    )
    full = verify(verified, None, full=True)["first_mismatch"]
    assert full["seq"] == all_seqs[4] and "rewritten" in full["reason"]


def test_an_altered_checkpoint_is_named(verified):
    tenth = seqs(verified)[9]
    tamper(verified, update(cp).where(cp.c.seq == tenth).values(length=9))
    for full in (False, True):
        bad = verify(verified, None, full=full)
        assert not bad["ok"] and bad["first_mismatch"] == {
            "seq": tenth,
            "event_id": None,
            "reason": f"the checkpoint at record {tenth} was altered (its digest does not match)",
        }


def test_a_deleted_checkpoint_breaks_the_checkpoints_chain(verified):
    fifth, tenth = seqs(verified)[4::5]
    tamper(verified, delete(cp).where(cp.c.seq == fifth))
    for full in (False, True):
        bad = verify(verified, None, full=full)["first_mismatch"]
        assert bad["seq"] == tenth and "was altered" in bad["reason"]


@pytest.mark.parametrize(
    ("field", "value", "why"),
    [
        ("columns", "0" * 64, "the indexed columns up to record {seq} differ from those"),
        ("length", 4, "the chain holds 5 records up to record {seq}, its checkpoint 4"),
    ],
)
def test_a_checkpoint_rewritten_with_its_digests_recomputed_is_named_by_the_full_walk(
    verified, field, value, why
):
    """What a checkpoint recorded no longer matches the records (its digests forged to
    match): the full walk re-checks those records from their bodies, and names it."""
    from dataclasses import replace

    from services.archive import verification
    from services.archive.domain import next_checkpoint

    first, second = verification.checkpoints(verified, 0, seqs(verified)[-1])
    forged = next_checkpoint(None, first.seq, first.length, first.hash, first.columns)
    forged = replace(forged, **{field: value})
    forged = next_checkpoint(None, forged.seq, forged.length, forged.hash, forged.columns)
    after = next_checkpoint(forged, second.seq, second.length, second.hash, second.columns)
    tamper(verified, update(cp).where(cp.c.seq == second.seq).values(prev_digest="tmp"))
    tamper(
        verified,
        update(cp).where(cp.c.seq == first.seq).values(**{field: value}, digest=forged.digest),
    )
    tamper(
        verified,
        update(cp)
        .where(cp.c.seq == second.seq)
        .values(prev_digest=after.prev_digest, digest=after.digest),
    )
    assert verify(verified, None)["ok"]  # the routine verify trusts what is behind it
    bad = verify(verified, None, full=True)["first_mismatch"]
    assert bad["seq"] == first.seq and bad["reason"].startswith(why.format(seq=first.seq))


def test_verifies_racing_extend_the_checkpoints_once(verified, append, monkeypatch):
    """Two verifies from the same checkpoint: the second to finish records no fork."""
    from services.archive import verification

    stale = verification.newest_checkpoint(verified)
    append(2)
    assert verify(verified, None)["checkpoint"]["length"] == 12
    append(1)
    monkeypatch.setattr(verification, "newest_checkpoint", lambda uow: stale)
    late = verify(verified, None)  # walked from the 10th: found intact, but recorded nothing
    assert late["ok"] and late["checkpoint"]["seq"] == stale.seq
    assert [c.length for c in checkpoints(verified)] == [5, 10, 12]
    monkeypatch.undo()
    assert verify(verified, None)["checkpoint"]["length"] == 13
    assert [c.length for c in checkpoints(verified)] == [5, 10, 12, 13]


# --- reading ahead ----------------------------------------------------------------------------


def test_reading_ahead_keeps_the_order_and_raises_what_the_reader_raised():
    import threading

    from services.archive.verification import read_ahead

    assert list(read_ahead(iter(range(100)), depth=2)) == list(range(100))

    def broken():
        yield 1
        raise ValueError("the database went away")

    got = []
    with pytest.raises(ValueError, match="went away"):
        for item in read_ahead(broken()):
            got.append(item)
    assert got == [1]
    # a caller that stops early stops the reader: nothing keeps reading behind its back
    read = []

    def endless():
        n = 0
        while True:
            read.append(n)
            yield n
            n += 1

    it = read_ahead(endless(), depth=2)
    assert [next(it) for _ in range(3)] == [0, 1, 2]
    it.close()
    assert not any(t.name == "chain-read-ahead" for t in threading.enumerate())
    assert len(read) <= 3 + 2 + 1  # taken, queued, and the one waiting to be queued
