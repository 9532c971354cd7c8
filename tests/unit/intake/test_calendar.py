from datetime import date, datetime

import pytest

from services.intake.calendar import CHINA, WorkingCalendar, service_notice

CAL = WorkingCalendar()


def at(y, m, d, h=10):
    return datetime(y, m, d, h, 0, tzinfo=CHINA)


def test_simple_demands_are_due_the_same_working_day():
    d = CAL.deadline(at(2026, 11, 25), 0)  # a Wednesday
    assert d.due == datetime(2026, 11, 25, 18, 0, tzinfo=CHINA) and not d.provisional
    d = CAL.deadline(at(2026, 11, 28), 0)  # a Saturday: the next working day
    assert d.due.date() == date(2026, 11, 30)


def test_after_hours_counts_from_the_next_working_morning():
    """即日办 counts from the next working morning when a demand arrives after 18:00."""
    wed = CAL.deadline(at(2026, 11, 25, 17), 0)  # Wednesday 17:00: the same day
    assert wed.due == datetime(2026, 11, 25, 18, 0, tzinfo=CHINA)
    late = CAL.deadline(datetime(2026, 11, 25, 18, 0, tzinfo=CHINA), 0)  # 18:00 sharp
    assert late.due == datetime(2026, 11, 26, 18, 0, tzinfo=CHINA)
    friday_night = CAL.deadline(at(2026, 11, 27, 21), 0)  # Friday 21:00 → Monday
    assert friday_night.due == datetime(2026, 11, 30, 18, 0, tzinfo=CHINA)
    # the eve of the National Day holiday (30 Sep 2026, 20:00) → 8 Oct
    assert CAL.deadline(at(2026, 9, 30, 20), 0).due.date() == date(2026, 10, 8)
    # a general demand received after hours counts its five days from the next morning
    assert CAL.deadline(at(2026, 11, 25, 19), 5).due.date() == date(2026, 12, 3)
    assert CAL.deadline(at(2026, 11, 25, 10), 5).due.date() == date(2026, 12, 2)
    # in UTC, 2026-11-25 10:30Z is 18:30 in China: after hours
    from datetime import UTC

    utc_evening = CAL.deadline(datetime(2026, 11, 25, 10, 30, tzinfo=UTC), 0)
    assert utc_evening.due == datetime(2026, 11, 26, 18, 0, tzinfo=CHINA)


def test_national_day_holiday_and_its_make_up_workday():
    # 2026: 1–7 Oct off; Sat 10 Oct is a make-up working day (State Council).
    d = CAL.deadline(at(2026, 9, 30), 5)
    # 30 Sep (day 0) → 8 Oct, 9 Oct, 10 Oct (make-up Saturday), 12 Oct, 13 Oct
    assert d.due.date() == date(2026, 10, 13)
    assert not d.provisional


def test_spring_festival_2026():
    # 2026 Spring Festival: 15–23 Feb off; Sat 14 Feb and Sat 28 Feb are make-up workdays.
    d = CAL.deadline(at(2026, 2, 13), 1)
    assert d.due.date() == date(2026, 2, 14)
    d = CAL.deadline(at(2026, 2, 14), 1)
    assert d.due.date() == date(2026, 2, 24)


def test_beyond_the_published_calendar_is_provisional_not_an_error():
    d = CAL.deadline(at(2026, 12, 28), 5)  # runs into 2027, not yet published
    assert d.provisional
    assert d.due.date() == date(2027, 1, 4)  # weekends only: 29, 30, 31 Dec, 1 Jan, 4 Jan
    assert "暂定" in service_notice("630102-2026-000001", "general", d)


def test_a_jurisdictions_closure_days_are_not_working_days():
    cal = WorkingCalendar.with_closures([date(2026, 11, 26)])
    assert cal.deadline(at(2026, 11, 25), 1).due.date() == date(2026, 11, 27)


def test_complex_demands_take_twenty_working_days():
    d = CAL.deadline(at(2026, 11, 2), 20)
    assert d.due.date() == date(2026, 11, 30)


def test_notice_states_the_promise():
    d = CAL.deadline(at(2026, 11, 25), 5)
    text = service_notice("630102-2026-000009", "general", d)
    assert "630102-2026-000009" in text and "一般需求" in text and "2026年12月02日 18:00" in text
    with pytest.raises(ValueError):
        CAL.deadline(at(2026, 11, 25), -1)


def test_the_first_response_counts_office_hours_from_receipt():
    """Office hours are 09:00–18:00 of working days: the hours left in the day count,
    the rest from the next working morning."""
    assert CAL.after_working_hours(at(2026, 11, 25, 10), 4).due == at(2026, 11, 25, 14)
    # 16:00 + 4 h: 2 h that day, 2 h from 09:00 the next
    assert CAL.after_working_hours(at(2026, 11, 25, 16), 4).due == at(2026, 11, 26, 11)
    # before the office opens: from 09:00; after it closes or on a day off: next morning
    assert CAL.after_working_hours(at(2026, 11, 25, 7), 4).due == at(2026, 11, 25, 13)
    assert CAL.after_working_hours(at(2026, 11, 25, 19), 4).due == at(2026, 11, 26, 13)
    assert CAL.after_working_hours(at(2026, 11, 28, 10), 4).due == at(2026, 11, 30, 13)
    # Friday 17:00 + 4 h → Monday 12:00; the holiday eve → after the National Day week
    assert CAL.after_working_hours(at(2026, 11, 27, 17), 4).due == at(2026, 11, 30, 12)
    assert CAL.after_working_hours(at(2026, 9, 30, 15), 4).due == at(2026, 10, 8, 10)
    # a whole working day is nine hours; a closure day is skipped
    assert CAL.after_working_hours(at(2026, 11, 25, 9), 9).due == at(2026, 11, 25, 18)
    closed = WorkingCalendar.with_closures([date(2026, 11, 26)])
    assert closed.after_working_hours(at(2026, 11, 25, 16), 4).due == at(2026, 11, 27, 11)
    assert CAL.after_working_hours(at(2026, 12, 31, 17), 4).provisional  # into 2027
    with pytest.raises(ValueError):
        CAL.after_working_hours(at(2026, 11, 25), -1)
