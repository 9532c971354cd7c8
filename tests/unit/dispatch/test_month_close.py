"""The month close (CX 第十七条) with the seed's own numbers; the property that a close
never pauses a whole category runs month-long order streams through the selection and
lives in test_alliance.py."""

from __future__ import annotations

from datetime import date

import pytest

from services.dispatch.alliance import AllianceRules, MonthTally
from services.dispatch.month_close import close_month, month_bounds, month_of, next_month
from tests.factories import alliance_member as ag

SEED = AllianceRules()


# --- month close (第十七条) ---------------------------------------------------------


def test_month_bounds_and_next_month():
    assert month_bounds("2026-11") == (date(2026, 11, 1), date(2026, 11, 30))
    assert month_bounds("2026-12") == (date(2026, 12, 1), date(2026, 12, 31))
    assert month_bounds("2028-02") == (date(2028, 2, 1), date(2028, 2, 29))  # leap year
    assert month_bounds("2027-02") == (date(2027, 2, 1), date(2027, 2, 28))
    assert next_month("2026-11") == "2026-12"
    assert next_month("2026-12") == "2027-01"
    assert next_month("2028-01") == "2028-02"
    assert next_month("2028-02") == "2028-03"
    assert month_of(date(2026, 3, 9)) == "2026-03"


# A holds 3 of 5 orders of X and 60 % of the value; B and C 20 % each.
OVER_A = MonthTally.of(
    [("A", "X", 100), ("A", "X", 100), ("A", "X", 100), ("B", "X", 100), ("C", "X", 100)]
)
ABC = [ag("A", 30), ag("B", 20), ag("C", 10)]


@pytest.mark.parametrize(
    ("month", "until"),
    [
        ("2026-11", date(2026, 12, 31)),
        ("2026-12", date(2027, 1, 31)),
        ("2028-01", date(2028, 2, 29)),
        ("2026-01", date(2026, 2, 28)),
    ],
)
def test_an_agency_above_a_cap_is_paused_until_the_end_of_next_month(month, until):
    close = close_month(month, SEED, OVER_A, ABC)
    assert [p.agency_id for p in close.pauses] == ["A"]
    assert close.pauses[0].until == until
    assert close.kept == ()


def test_the_pause_says_which_caps_were_exceeded():
    reason = close_month("2026-11", SEED, OVER_A, ABC).pauses[0].reason
    assert "2026-11" in reason
    assert "3 of 5 orders of X (60.0%)" in reason
    assert "60.0% of the service value" in reason
    assert "第十七条" in reason


# 达到上限: a share equal to a cap reaches it. Five finance members; only A reaches a cap.
AT_ITEM_CAP = MonthTally.of(  # A: 2 of 4 orders of X = 50 %; 200 of 1,000 = 20 %
    [("A", "X", 100), ("A", "X", 100), ("B", "X", 100), ("C", "X", 100)]
    + [(a, "Z", 150) for a in "BCDE"]  # Z: 25 % each
)
AT_VALUE_CAP = MonthTally.of(  # X: 1 of 4 each; A: 300 of 1,000 = 30 %
    [("A", "X", 300), ("B", "X", 250), ("C", "X", 250), ("D", "X", 200)]
)


@pytest.mark.parametrize(
    ("tally", "why"),
    [(AT_ITEM_CAP, "2 of 4 orders of X (50.0%)"), (AT_VALUE_CAP, "30.0% of the service value")],
)
def test_a_share_exactly_at_a_cap_reaches_it_and_is_paused(tally, why):
    agencies = [ag(a, rank) for a, rank in zip("ABCDE", (50, 40, 30, 20, 10), strict=True)]
    close = close_month("2026-11", SEED, tally, agencies)
    assert [p.agency_id for p in close.pauses] == ["A"]
    assert why in close.pauses[0].reason and "at a cap" in close.pauses[0].reason
    assert close.kept == ()


def test_a_share_just_below_a_cap_is_not_paused():
    # A: 2 of 5 orders of X (40 %), 290 of 1,000 (29 %)
    tally = MonthTally.of(
        [("A", "X", 145), ("A", "X", 145), ("B", "X", 200), ("C", "X", 255), ("D", "X", 255)]
    )
    agencies = [ag("A"), ag("B"), ag("C"), ag("D")]
    assert "A" not in {p.agency_id for p in close_month("2026-11", SEED, tally, agencies).pauses}


def test_when_every_member_would_be_paused_the_lowest_share_stays_active():
    # Finance has A and B only. A: 3 of 5 of X, 60 % of the value (2.0x the value cap);
    # B: 2 of 5, 40 % (1.33x). Both above 30 %; B is lower relative to the cap.
    tally = MonthTally.of([("A", "X", 100)] * 3 + [("B", "X", 100)] * 2)
    close = close_month("2026-11", SEED, tally, [ag("A", 30), ag("B", 20)])
    assert [p.agency_id for p in close.pauses] == ["A"]
    assert [k for k, _ in close.kept] == ["B"]
    assert "lowest share" in close.kept[0][1]
    assert "40.0% of the service value" in close.kept[0][1]


def test_the_exception_counts_only_the_members_that_have_not_exited():
    tally = MonthTally.of([("A", "X", 100)] * 3 + [("B", "X", 100)] * 2)
    agencies = [ag("A", 30), ag("B", 20), ag("C", 10, status="exited")]
    close = close_month("2026-11", SEED, tally, agencies)
    assert [p.agency_id for p in close.pauses] == ["A"]
    assert [k for k, _ in close.kept] == ["B"]


def test_no_exception_when_another_member_stays_below_the_caps():
    tally = MonthTally.of([("A", "X", 100)] * 3 + [("B", "X", 100)] * 2)
    agencies = [ag("A", 30), ag("B", 20), ag("C", 10)]  # C took nothing: it stays active
    close = close_month("2026-11", SEED, tally, agencies)
    assert sorted(p.agency_id for p in close.pauses) == ["A", "B"]
    assert close.kept == ()


def test_the_exception_is_per_category():
    # Finance A alone is over (and the only finance member): it is kept.
    # rd R1 and R2 split the rest so that R1 is over and R2 is not.
    tally = MonthTally.of(
        [("A", "X", 400)] + [("R1", "Y", 100)] * 4 + [("R2", "Y", 100)] * 2,
    )
    agencies = [ag("A", category="finance"), ag("R1", category="rd"), ag("R2", category="rd")]
    close = close_month("2026-11", SEED, tally, agencies)
    assert [k for k, _ in close.kept] == ["A"]
    assert [p.agency_id for p in close.pauses] == ["R1"]  # 4 of 6 of Y


def test_an_exited_agency_is_never_paused():
    agencies = [ag("A", 30, status="exited"), ag("B", 20), ag("C", 10)]
    close = close_month("2026-11", SEED, OVER_A, agencies)
    assert close.pauses == ()
    assert close.kept == ()


def test_no_pauses_for_an_empty_month_or_below_the_minimum_volume():
    assert close_month("2026-11", SEED, MonthTally(), ABC).pauses == ()
    rules = AllianceRules(min_monthly_volume=5)  # OVER_A has exactly 5 orders
    assert close_month("2026-11", rules, OVER_A, ABC).pauses == ()
    rules = AllianceRules(min_monthly_volume=4)
    assert [p.agency_id for p in close_month("2026-11", rules, OVER_A, ABC).pauses] == ["A"]
