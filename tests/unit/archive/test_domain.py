from dataclasses import replace

from services.archive.domain import (
    GENESIS,
    Head,
    Link,
    canonical,
    chain_hash,
    demand_code_of,
    head_mismatch,
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
