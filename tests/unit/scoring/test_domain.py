from datetime import UTC, datetime

from services.scoring.domain import GENERAL_ITEM, TECHNOLOGY_ITEM, demand_item, period_of


def test_period_is_the_china_time_month():
    assert period_of(datetime(2026, 11, 30, 16, 30, tzinfo=UTC)) == "2026-12"
    assert period_of(datetime(2026, 11, 30, 15, 30, tzinfo=UTC)) == "2026-11"


def test_technology_demands_are_scored_apart_from_general_ones():
    assert demand_item("technology") == TECHNOLOGY_ITEM
    for c in ("talent", "funding", "ip", "achievement_transfer", "other"):
        assert demand_item(c) == GENERAL_ITEM
