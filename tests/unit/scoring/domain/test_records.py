"""Manual records: their kinds and the bounds of their values."""

from __future__ import annotations

import pytest

from services.scoring.domain.records import (
    COUNT_KINDS,
    OVERRIDE_KINDS,
    RATING_KINDS,
    RECORD_KINDS,
    record_problem,
)

NOW = "2026-11"


def test_the_kinds():
    assert set(RATING_KINDS) == {"integrity_rating", "attitude_rating"}
    assert OVERRIDE_KINDS == {"efficiency_override": (0, 15)}
    assert len(RECORD_KINDS) == len(set(RECORD_KINDS)) == 3 + len(COUNT_KINDS)


@pytest.mark.parametrize(
    "kind,value",
    [
        ("integrity_rating", 0),
        ("attitude_rating", 5),
        ("integrity_rating", 2.5),
        ("efficiency_override", 0),
        ("efficiency_override", 15),
        ("paper", 1),
        ("invention_patent", 3.0),
    ],
)
def test_values_in_bounds_are_accepted(kind, value):
    assert record_problem(kind, value, NOW, NOW) is None


@pytest.mark.parametrize(
    "kind,value,message",
    [
        ("integrity_rating", 5.5, "integrity_rating is between 0 and 5"),
        ("attitude_rating", -1, "attitude_rating is between 0 and 5"),
        ("efficiency_override", 16, "efficiency_override is between 0 and 15"),
        ("paper", 0, "paper counts whole items, at least 1"),
        ("standard", 1.5, "standard counts whole items, at least 1"),
    ],
)
def test_values_out_of_bounds_name_the_value(kind, value, message):
    assert record_problem(kind, value, NOW, NOW) == ("value", message)


def test_records_are_for_this_month_or_earlier():
    assert record_problem("paper", 1, "2026-10", NOW) is None
    assert record_problem("paper", 1, "2026-12", NOW) == (
        "period",
        "records are for this month or earlier",
    )
    # a bad value is named first
    assert record_problem("paper", 0, "2026-12", NOW)[0] == "value"
