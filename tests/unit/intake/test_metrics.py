"""Intake's metrics label a demand by the level of its unit: a few values, whatever the
depth of the tree."""

import pytest

from services.intake.metrics import level


@pytest.mark.parametrize(
    ("code", "expected"),
    [
        ("630000", "province"),
        ("630100", "city"),
        ("630102", "county"),
        ("630102001", "township"),
        ("630102-P0001", "park"),
        ("630000-S0001", "station"),
        ("630102001-S0001", "station"),
        ("630102-P0001-W0001", "workstation"),
    ],
)
def test_the_level_of_a_unit(code, expected):
    assert level(code) == expected


def test_a_malformed_code_has_no_level():
    with pytest.raises(ValueError):
        level("630102-X0001")
