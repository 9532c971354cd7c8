"""Periods (ISO weeks, months, quarters), working days from the State Council calendar
(chinese_calendar) and the duty rule counted on them; the frequency rules' checks."""

from datetime import date

import pytest

from services.visits.domain import (
    FrequencyRules,
    is_working_day,
    parse_period,
    period_of,
    previous_period,
    required_duty_days,
    status_of,
)

# --- parsing and boundaries ---------------------------------------------------------------


def test_a_week_crossing_a_month_boundary():
    w49 = parse_period("2026-W49")
    assert (w49.kind, w49.label, w49.start, w49.end) == (
        "week",
        "2026-W49",
        date(2026, 11, 30),
        date(2026, 12, 6),
    )
    assert len(w49.days()) == 7
    # a visit on Tuesday 1 December belongs to that week and to December, not November
    assert period_of(date(2026, 12, 1), "week") == w49
    assert period_of(date(2026, 11, 30), "week") == w49
    assert period_of(date(2026, 12, 1), "month").label == "2026-12"
    assert period_of(date(2026, 11, 30), "month").label == "2026-11"


def test_iso_week_53_runs_into_the_next_year():
    w53 = parse_period("2026-W53")
    assert (w53.start, w53.end) == (date(2026, 12, 28), date(2027, 1, 3))
    # 3 January 2027 is a Sunday still in 2026's last ISO week, but in January's month
    assert period_of(date(2027, 1, 3), "week").label == "2026-W53"
    assert period_of(date(2027, 1, 3), "month").label == "2027-01"
    assert period_of(date(2027, 1, 4), "week").label == "2027-W01"
    # 2027 has only 52 ISO weeks
    with pytest.raises(ValueError, match="no ISO week 53"):
        parse_period("2027-W53")


def test_months_and_quarters_end_on_their_last_day():
    assert parse_period("2026-12").end == date(2026, 12, 31)
    assert parse_period("2026-02").end == date(2026, 2, 28)
    assert parse_period("2028-02").end == date(2028, 2, 29)
    q4 = parse_period("2026-Q4")
    assert (q4.kind, q4.start, q4.end) == ("quarter", date(2026, 10, 1), date(2026, 12, 31))
    q1 = parse_period("2028-Q1")  # a leap year: 31 + 29 + 31 days
    assert (q1.start, q1.end) == (date(2028, 1, 1), date(2028, 3, 31))
    assert len(q1.days()) == 91
    assert date(2028, 2, 29) in q1.days()
    assert period_of(date(2028, 2, 29), "quarter") == q1
    assert period_of(date(2026, 9, 30), "quarter").label == "2026-Q3"
    assert period_of(date(2026, 10, 1), "quarter").label == "2026-Q4"


@pytest.mark.parametrize(
    "text",
    [
        "2026-W54",  # no year has 54 ISO weeks
        "2026-W00",
        "2026-13",
        "2026-00",
        "2026-Q5",
        "2026-Q0",
        "2026-W1",  # two digits
        "2026-1",
        "2026-w49",  # upper-case W only
        "2026-Q4 ",
        "1899-12",  # years 1900 to 2200
        "2201-01",
        "",
        "last week",
        "2026/11",
        "2026-02-30",  # not a date of the calendar
        "2026-11-1",
    ],
)
def test_invalid_periods_raise_value_error(text):
    with pytest.raises(ValueError):
        parse_period(text)


def test_a_trailing_newline_is_not_a_period():
    with pytest.raises(ValueError):
        parse_period("2026-11\n")


def test_full_width_digits_are_not_a_period():
    with pytest.raises(ValueError):
        parse_period("２０２６-11")


def test_previous_period_across_year_boundaries():
    # the week before 2027-W01 is 2026's week 53
    assert previous_period(date(2027, 1, 4), "week").label == "2026-W53"
    # 1 January 2027 is still in 2026-W53, so its previous week is 2026-W52
    assert previous_period(date(2027, 1, 1), "week").label == "2026-W52"
    # 2026-W01 starts on Monday 29 December 2025; the week before is 2025-W52
    assert parse_period("2026-W01").start == date(2025, 12, 29)
    assert previous_period(date(2026, 1, 2), "week").label == "2025-W52"
    assert previous_period(date(2026, 1, 1), "month").label == "2025-12"
    assert previous_period(date(2026, 3, 31), "quarter").label == "2025-Q4"
    assert previous_period(date(2026, 4, 1), "quarter").label == "2026-Q1"
    # any day of a period gives the same previous period
    assert previous_period(date(2026, 11, 30), "month").label == "2026-10"
    assert previous_period(date(2026, 11, 1), "month").label == "2026-10"


def test_a_period_closes_the_day_after_its_last_day():
    w47 = parse_period("2026-W47")  # Monday 16 to Sunday 22 November
    assert not w47.closed_on(date(2026, 11, 16))
    assert not w47.closed_on(date(2026, 11, 22))
    assert w47.closed_on(date(2026, 11, 23))
    q4 = parse_period("2026-Q4")
    assert not q4.closed_on(date(2026, 12, 31))
    assert q4.closed_on(date(2027, 1, 1))


def test_status_is_met_short_once_closed_else_open():
    w47 = parse_period("2026-W47")
    assert status_of(1, 1, w47, date(2026, 11, 20)) == "met"
    assert status_of(1, 2, w47, date(2026, 11, 30)) == "met"
    assert status_of(1, 0, w47, date(2026, 11, 22)) == "open"
    assert status_of(1, 0, w47, date(2026, 11, 23)) == "short"
    assert status_of(0, 0, w47, date(2026, 11, 23)) == "met"


# --- working days and the duty rule (CX 第十一条) ---------------------------------------------


def test_working_days_follow_the_state_council_calendar():
    assert is_working_day(date(2026, 3, 2))  # an ordinary Monday
    assert not is_working_day(date(2026, 3, 7))  # an ordinary Saturday
    assert not is_working_day(date(2025, 10, 1))  # National Day
    assert not is_working_day(date(2025, 10, 8))  # the last day of the 2025 golden week
    assert is_working_day(date(2025, 9, 28))  # a Sunday made a workday for it
    assert is_working_day(date(2025, 10, 11))  # and a Saturday
    assert not is_working_day(date(2026, 2, 16))  # Spring Festival 2026 (a Monday)
    assert is_working_day(date(2026, 2, 14))  # its make-up Saturday


def test_beyond_the_published_calendar_monday_to_friday_work():
    # chinese_calendar has no data for this far ahead: Monday to Friday are working days
    week = parse_period("2150-W10")
    assert [is_working_day(d) for d in week.days()] == [True] * 5 + [False] * 2
    assert required_duty_days(2, week) == 2


def test_a_normal_week_asks_for_two_duty_days():
    # 2026-W10, 2 to 8 March: Monday to Friday work, no holiday
    week = parse_period("2026-W10")
    assert sum(is_working_day(d) for d in week.days()) == 5
    assert required_duty_days(2, week) == 2


def test_a_week_with_a_make_up_weekend_day_asks_for_three():
    # 2025-W39, 22 to 28 September: Monday to Friday plus Sunday 28 September, a make-up
    # workday for the National Day holiday → 6 working days: still 2 ("不少于2个工作日" per
    # week; the share is never more than the weekly number)
    week = parse_period("2025-W39")
    assert [d for d in week.days() if is_working_day(d)] == [
        date(2025, 9, 22),
        date(2025, 9, 23),
        date(2025, 9, 24),
        date(2025, 9, 25),
        date(2025, 9, 26),
        date(2025, 9, 28),
    ]
    assert required_duty_days(2, week) == 2
    # 2026-W07, 9 to 15 February: Saturday 14 February is worked before Spring Festival
    assert required_duty_days(2, parse_period("2026-W07")) == 2


def test_the_national_day_week_of_2025_asks_for_its_share():
    # 2025-W40, 29 September to 5 October: only Monday 29 and Tuesday 30 September are
    # working days (1 to 8 October are holidays) → ceil(2 × 2 / 5) = 1
    week = parse_period("2025-W40")
    assert [d for d in week.days() if is_working_day(d)] == [date(2025, 9, 29), date(2025, 9, 30)]
    assert required_duty_days(2, week) == 1
    # 2025-W41, 6 to 12 October: 6 (Mid-autumn), 7 and 8 off; 9, 10 and Saturday 11 worked
    # → 3 working days, ceil(6 / 5) = 2
    week = parse_period("2025-W41")
    assert [d for d in week.days() if is_working_day(d)] == [
        date(2025, 10, 9),
        date(2025, 10, 10),
        date(2025, 10, 11),
    ]
    assert required_duty_days(2, week) == 2


def test_a_week_of_one_working_day_still_asks_for_one():
    # 2025-W05, 27 January to 2 February: only Monday 27 January before Spring Festival
    week = parse_period("2025-W05")
    assert [d for d in week.days() if is_working_day(d)] == [date(2025, 1, 27)]
    assert required_duty_days(2, week) == 1  # ceil(2 / 5)


def test_a_week_of_holidays_asks_for_nothing():
    # 2026-W08, 16 to 22 February: the whole week is Spring Festival
    week = parse_period("2026-W08")
    assert not any(is_working_day(d) for d in week.days())
    assert required_duty_days(2, week) == 0
    assert required_duty_days(5, week) == 0


def test_five_out_of_five_is_every_working_day():
    assert required_duty_days(5, parse_period("2026-W10")) == 5
    assert required_duty_days(5, parse_period("2025-W39")) == 5  # at most the weekly number
    assert required_duty_days(5, parse_period("2025-W40")) == 2
    assert required_duty_days(5, parse_period("2025-W41")) == 3
    assert required_duty_days(0, parse_period("2026-W10")) == 0


def test_iso_week_53_of_2026_works_its_last_four_days_of_december():
    # 28 to 31 December 2026 are working days in the 2026 calendar
    week = parse_period("2026-W53")
    assert all(is_working_day(d) for d in week.days()[:4])
    assert not any(is_working_day(d) for d in week.days()[5:])


# --- the frequency rules' checks --------------------------------------------------------------


def test_default_rules_are_the_documents_and_consistent():
    rules = FrequencyRules()
    assert rules.as_dict() == {
        "department_weekly": 1,
        "team_city_monthly": 1,
        "team_key_quarterly": 1,
        "team_min_key_enterprises": 10,
        "leader_quarterly": 1,
        "station_duty_days_per_five": 2,
    }
    assert rules.problems() == {}
    assert FrequencyRules(station_duty_days_per_five=5, department_weekly=0).problems() == {}


def test_negative_counts_are_problems():
    rules = FrequencyRules(department_weekly=-1, team_min_key_enterprises=-3, leader_quarterly=-1)
    assert rules.problems() == {
        "department_weekly": "must not be negative",
        "team_min_key_enterprises": "must not be negative",
        "leader_quarterly": "must not be negative",
    }


def test_more_than_five_duty_days_out_of_five_is_a_problem():
    assert FrequencyRules(station_duty_days_per_five=6).problems() == {
        "station_duty_days_per_five": "at most 5 working days out of 5"
    }
    assert FrequencyRules(station_duty_days_per_five=-1).problems() == {
        "station_duty_days_per_five": "must not be negative"
    }
