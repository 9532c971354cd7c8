from services.archive.domain import (
    GENESIS,
    canonical,
    chain_hash,
    demand_code_of,
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
