"""Which month and A.1 item an event counts towards; the periods scored."""

from datetime import UTC, date, datetime

import pytest

from services.scoring.domain.facts import (
    GENERAL_ITEM,
    TECH_STAGES,
    TECHNOLOGY_ITEM,
    demand_item,
    months_long,
    parse_period,
    period_arg,
    period_of,
    stage_input,
)
from shared.errors import status_of
from shared.usecases import Invalid


def test_period_is_the_china_time_month():
    assert period_of(datetime(2026, 11, 30, 16, 30, tzinfo=UTC)) == "2026-12"
    assert period_of(datetime(2026, 11, 30, 15, 30, tzinfo=UTC)) == "2026-11"


def test_technology_demands_are_scored_apart_from_general_ones():
    assert demand_item("technology") == TECHNOLOGY_ITEM
    for c in ("talent", "funding", "ip", "achievement_transfer", "other"):
        assert demand_item(c) == GENERAL_ITEM


def test_every_stage_of_a_technology_demand_is_an_input():
    assert [stage_input(s, "technology") for s in TECH_STAGES] == [
        "tech_collected",
        "tech_analysed",
        "tech_published",
        "tech_matched",
        "tech_solved",
    ]


@pytest.mark.parametrize("category", ["ip", "talent", None])
def test_a_general_demand_counts_only_when_solved(category):
    assert stage_input("solved", category) == "general_solved"
    for stage in ("collected", "analysed", "published", "matched"):
        assert stage_input(stage, category) is None


# --- parse_period ------------------------------------------------------------------------------


def test_a_month():
    p = parse_period("2026-11")
    assert p.label == "2026-11"
    assert p.months == ("2026-11",)
    assert (p.start, p.end) == (date(2026, 11, 1), date(2026, 11, 30))


@pytest.mark.parametrize(
    "text,end",
    [
        ("2026-01", date(2026, 1, 31)),
        ("2026-02", date(2026, 2, 28)),
        ("2028-02", date(2028, 2, 29)),  # leap year
        ("2100-02", date(2100, 2, 28)),  # not a leap year
        ("2000-02", date(2000, 2, 29)),  # a leap year
        ("2026-04", date(2026, 4, 30)),
        ("2026-12", date(2026, 12, 31)),
    ],
)
def test_month_ends(text, end):
    p = parse_period(text)
    assert p.end == end and p.start == end.replace(day=1)


def test_a_quarter():
    p = parse_period("2026-Q4")
    assert p.months == ("2026-10", "2026-11", "2026-12")
    assert (p.start, p.end) == (date(2026, 10, 1), date(2026, 12, 31))


@pytest.mark.parametrize(
    "text,months,start,end",
    [
        ("2028-Q1", ("2028-01", "2028-02", "2028-03"), date(2028, 1, 1), date(2028, 3, 31)),
        ("2026-Q2", ("2026-04", "2026-05", "2026-06"), date(2026, 4, 1), date(2026, 6, 30)),
        ("2026-Q3", ("2026-07", "2026-08", "2026-09"), date(2026, 7, 1), date(2026, 9, 30)),
    ],
)
def test_quarters(text, months, start, end):
    p = parse_period(text)
    assert (p.months, p.start, p.end) == (months, start, end)


def test_a_year():
    p = parse_period("2028")
    assert len(p.months) == 12
    assert p.months[0] == "2028-01" and p.months[-1] == "2028-12"
    assert "2028-02" in p.months  # February (with its 29th) is inside
    assert (p.start, p.end) == (date(2028, 1, 1), date(2028, 12, 31))


def test_a_day_is_a_period_judged_on_its_rate():
    p = parse_period("2026-12-01")
    assert (p.kind, p.start, p.end, p.months) == (
        "day",
        date(2026, 12, 1),
        date(2026, 12, 1),
        ("2026-12",),
    )
    assert months_long(p) == pytest.approx(12 / 365)
    assert months_long(parse_period("2028-02-29")) == pytest.approx(12 / 366)
    assert months_long(parse_period("2026-Q4")) == 3
    week = parse_period("2026-W46")  # 9–15 November, judged on its rate too
    assert (week.kind, week.start, week.end) == ("week", date(2026, 11, 9), date(2026, 11, 15))
    assert months_long(week) == pytest.approx(7 * 12 / 365)


@pytest.mark.parametrize(
    "text",
    [
        "2026-13",
        "2026-00",
        "2026-1",
        "2026-Q5",
        "2026-Q0",
        "2026-q4",
        "26-11",
        "2026-11\n",
        "2026\n",
        " 2026-11",
        "2026-11 ",
        "２０２６-１１",  # full-width digits
        "２０２６",
        "2026-１１",
        "٢٠٢٦-11",  # Arabic-Indic digits
        "",
        "2026-11-31",
        "2026-02-29",
        "2026-11-1",
        "2026/11",
        "1899",
        "2201-01",
    ],
)
def test_invalid_periods(text):
    with pytest.raises(ValueError):
        parse_period(text)


def test_a_bad_period_argument_is_invalid_naming_the_query_field():
    with pytest.raises(Invalid) as exc:
        period_arg("2026-W54")  # 2026 has 53 ISO weeks
    assert status_of(exc.value) == 422
    assert list(exc.value.fields["query"]) == ["period"]
    assert period_arg("2026-Q4").months == ("2026-10", "2026-11", "2026-12")
