from dataclasses import replace

from services.archive.domain import (
    GENESIS,
    ColumnsDigest,
    Head,
    Link,
    canonical,
    chain_hash,
    checkpoint_mismatch,
    demand_code_of,
    head_mismatch,
    indexed_columns,
    links_hold,
    next_checkpoint,
    redacted,
    subjects_of,
    walk,
)


def test_canonical_json_is_order_independent_and_keeps_chinese():
    a = canonical({"b": 1, "a": {"y": "城东区", "x": 2}})
    b = canonical({"a": {"x": 2, "y": "城东区"}, "b": 1})
    assert a == b == '{"a":{"x":2,"y":"城东区"},"b":1}'


def test_chain_links_each_record_to_the_previous_one():
    h1 = chain_hash(GENESIS, '{"n":1}')
    h2 = chain_hash(h1, '{"n":2}')
    assert len(h1) == 64 and h1 != h2
    assert chain_hash(GENESIS, '{"n":1}') == h1
    assert chain_hash(GENESIS, '{"n":2}') != h2  # order matters


def test_demand_code_is_taken_only_from_a_string():
    assert demand_code_of({"demand_code": "630102-2026-000001"}) == "630102-2026-000001"
    assert demand_code_of({"demand_code": 5}) is None
    assert demand_code_of({}) is None


# --- the verify walk, pure: links in, the first break out ------------------------------------


def _chain(n):
    """``n`` well-formed links, as the archive stores them."""
    links, prev = [], GENESIS
    for seq in range(1, n + 1):
        envelope = {"event_id": f"e{seq}", "event_type": "x.happened", "payload": {"n": seq}}
        body = canonical(envelope)
        h = chain_hash(prev, body)
        columns = {"event_id": f"e{seq}", "event_type": "x.happened", "demand_code": None}
        links.append(Link(seq, f"e{seq}", body, prev, h, columns))
        prev = h
    return links


def test_an_intact_walk_checks_every_link_and_ends_at_the_last_hash():
    links = _chain(4)
    walked = walk(links)
    assert (walked.checked, walked.last_hash, walked.first_mismatch) == (4, links[-1].hash, None)
    assert walk([]) == walk(iter(())) and walk([]).last_hash == GENESIS


def test_the_walk_stops_at_the_first_break_and_reads_no_further():
    links = _chain(5)
    links[2] = replace(links[2], body=links[2].body.replace('"n":3', '"n":30'))
    read = []

    def stream():
        for link in links:
            read.append(link.seq)
            yield link

    walked = walk(stream())
    assert walked.checked == 2 and walked.last_hash == links[1].hash
    assert walked.first_mismatch == {
        "seq": 3,
        "event_id": "e3",
        "reason": "its content does not match its hash (edited)",
    }
    assert read == [1, 2, 3]


def test_a_gap_in_the_sequence_is_a_deleted_record():
    links = _chain(4)
    del links[1]
    assert walk(links).first_mismatch["reason"] == "the record before it is missing (deleted)"


def test_the_head_must_match_the_walk():
    links = _chain(3)
    walked = walk(links)
    assert head_mismatch(Head(3, 3, links[-1].hash), walked) is None
    assert head_mismatch(None, walk([])) is None  # an empty chain has no head yet
    assert head_mismatch(None, walked) == {
        "seq": None,
        "event_id": None,
        "reason": "the chain head is missing",
    }
    newest_deleted = head_mismatch(Head(4, 4, "f" * 64), walked)
    assert newest_deleted == {
        "seq": 4,
        "event_id": None,
        "reason": "the chain ends after 3 records but its head says 4 ending at record 4 "
        "(the newest records deleted)",
    }


def test_a_walk_can_start_where_a_checkpoint_ended():
    links = _chain(5)
    walked = walk(links[2:], prev=links[1].hash, expected=3)
    assert (walked.checked, walked.last_hash, walked.first_mismatch) == (3, links[-1].hash, None)
    assert walk(links[3:], prev=links[1].hash, expected=3).first_mismatch == {
        "seq": 4,
        "event_id": "e4",
        "reason": "the record before it is missing (deleted)",
    }


def test_an_indexed_column_is_checked_against_the_body_it_copies():
    links = _chain(2)
    edited = replace(links[1], columns={**links[1].columns, "event_type": "y.happened"})
    assert walk([links[0], edited]).first_mismatch["reason"] == (
        "its indexed event_type does not match its content (edited)"
    )
    envelope = {
        "event_id": "e1",
        "event_type": "assignment.made",
        "producer": "dispatch",
        "jurisdiction": "630102",
        "payload": {"demand_code": "D1", "assignee_type": "agency", "assignee_id": "a1"},
    }
    assert indexed_columns(envelope) == {
        "event_id": "e1",
        "event_type": "assignment.made",
        "producer": "dispatch",
        "jurisdiction": "630102",
        "demand_code": "D1",
        "credit_code": None,
        "staff_id": None,
        "agency_id": "a1",
    }


def _stored(links):
    """Links as the database hands them over to a full walk: (seq, prev_hash, hash, the
    stored bytes)."""
    return [(x.seq, x.prev_hash, x.hash, (x.prev_hash + x.body).encode()) for x in links]


def test_stored_records_hold_when_each_hash_covers_its_bytes_and_follows_the_one_before():
    rows = _stored(_chain(4))
    assert links_hold(GENESIS, rows) and links_hold(GENESIS, [])
    assert links_hold(rows[1][2], rows[2:])
    assert not links_hold(rows[0][2], rows[2:])  # the first does not follow
    edited = [*rows[:2], (3, rows[2][1], rows[2][2], rows[2][3].replace(b'"n":3', b'"n":4'))]
    assert not links_hold(GENESIS, edited)  # its bytes changed, its hash not
    assert not links_hold(GENESIS, [rows[0], rows[2], rows[1], rows[3]])  # reordered
    assert not links_hold(GENESIS, rows[:1] + rows[2:])  # one deleted


def test_the_columns_digest_does_not_depend_on_how_records_are_batched():
    lines = ['["e1","x"]', '["e2",null]', '["e3",""]']
    whole, batched = ColumnsDigest(), ColumnsDigest()
    whole.add(lines)
    batched.add(lines[:1])
    batched.add([])
    batched.add(lines[1:])
    assert whole.hexdigest() == batched.hexdigest()
    reordered = ColumnsDigest()
    reordered.add([lines[1], lines[0], lines[2]])
    assert reordered.hexdigest() != whole.hexdigest()


def test_checkpoints_are_chained_and_must_match_the_chain_they_cover():
    first = next_checkpoint(None, 5, 5, "a" * 64, "c" * 64)
    second = next_checkpoint(first, 9, 8, "b" * 64, "d" * 64)
    assert first.prev_digest == GENESIS and second.prev_digest == first.digest
    assert len({first.digest, second.digest}) == 2

    def why(cp, **found):
        given = {"prev_digest": first.digest, "seq": 9, "hash": "b" * 64} | found
        problem = checkpoint_mismatch(cp, **given)
        return problem and (problem["seq"], problem["reason"])

    assert why(second) is None
    assert why(second, length=8, columns="d" * 64) is None
    assert why(second, prev_digest=GENESIS) == (
        9,
        "the checkpoint at record 9 was altered (its digest does not match)",
    )
    assert why(replace(second, seq=10)) == (
        10,
        "the checkpoint at record 10 was altered (its digest does not match)",
    )
    assert why(second, seq=8) == (
        9,
        "the record the checkpoint at record 9 ends at is missing (deleted)",
    )
    assert why(second, hash="e" * 64) == (
        9,
        "record 9 no longer has the hash the checkpoint recorded "
        "(the records up to it were rewritten)",
    )
    assert why(second, length=7) == (
        9,
        "the chain holds 7 records up to record 9, its checkpoint 8 (the checkpoint was altered)",
    )
    assert why(second, columns="f" * 64) == (
        9,
        "the indexed columns up to record 9 differ from those its checkpoint verified "
        "(the checkpoint was altered)",
    )


def test_subjects_are_the_enterprise_the_staff_member_and_the_agency():
    assert subjects_of({"enterprise": {"credit_code": "C1"}, "staff_id": "s1"}) == {
        "credit_code": "C1",
        "staff_id": "s1",
        "agency_id": None,
    }
    assert subjects_of(
        {"enterprise_credit_code": "C2", "assignee_type": "agency", "assignee_id": "a1"}
    ) == {"credit_code": "C2", "staff_id": None, "agency_id": "a1"}
    assert subjects_of(
        {"enterprises": [{"credit_code": "C3"}], "assignee_type": "staff", "assignee_id": "s2"}
    ) == {"credit_code": "C3", "staff_id": "s2", "agency_id": None}


def test_confidential_fields_are_redacted_unless_consented():
    envelope = {"event_type": "demand.accepted", "payload": {"title": "t", "category": "ip"}}
    assert redacted(envelope)["payload"] == {"category": "ip", "redacted": ["title"]}
    consented = {**envelope, "payload": {**envelope["payload"], "consent_to_share": True}}
    assert redacted(consented) is consented
    plain = {"payload": {"category": "ip"}}
    assert redacted(plain) is plain
