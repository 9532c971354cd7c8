"""Keyset cursors: what a list gave out comes back typed; anything else is one 422."""

from datetime import date

import pytest

from shared.errors import status_of
from shared.pagination import cursor_key, encode_cursor
from shared.usecases import Invalid


def typed(k):
    return [date.fromisoformat(str(k[0])), str(k[1])]


def test_a_cursor_round_trips_and_is_parsed():
    assert cursor_key(None, 2) is None and cursor_key("", 2) is None
    cursor = encode_cursor(["2026-11-30", "v-1"])
    assert cursor_key(cursor, 2) == ["2026-11-30", "v-1"]
    assert cursor_key(cursor, 2, typed) == [date(2026, 11, 30), "v-1"]


@pytest.mark.parametrize(
    ("cursor", "length", "parse"),
    [
        ("xyz", 2, None),  # not base64 JSON
        (encode_cursor(["2026-11-30"]), 2, None),  # the wrong length
        (encode_cursor({"a": 1}), 1, None),  # not a list
        (encode_cursor(["yesterday", "v-1"]), 2, typed),  # decodes, but not a date
        (encode_cursor([None]), 1, lambda k: [int(k[0])]),  # TypeError
    ],
)
def test_anything_else_is_one_422_naming_the_cursor(cursor, length, parse):
    with pytest.raises(Invalid) as err:
        cursor_key(cursor, length, parse)
    assert status_of(err.value) == 422
    assert err.value.fields == {"query": {"cursor": ["not a cursor this list gave out"]}}
