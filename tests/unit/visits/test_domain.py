from datetime import UTC, datetime

import pytest

from services.visits.domain import EnterpriseLink, link_owner, period_arg
from shared.usecases import Invalid


def link(day, code, unit="cd-kjj"):
    return EnterpriseLink(
        "91630102MA7522T5X6",
        "department",
        unit,
        "城东区科学技术局",
        "630102",
        datetime(2026, 11, day, tzinfo=UTC),
        code,
    )


def test_first_assignment_creates_the_link():
    new = link(3, "D1")
    assert link_owner(None, new) is new


def test_later_assignments_count_and_keep_the_first_date():
    merged = link_owner(link(3, "D1"), link(9, "D2"))
    assert merged.demand_count == 2
    assert merged.since == datetime(2026, 11, 3, tzinfo=UTC)
    assert merged.last_demand_code == "D2"
    # an out-of-order (older) delivery does not move the latest demand back
    merged = link_owner(merged, link(1, "D0"))
    assert merged.since == datetime(2026, 11, 1, tzinfo=UTC)
    assert merged.last_demand_code == "D2"
    assert merged.demand_count == 3


def test_links_of_other_units_do_not_merge():
    with pytest.raises(ValueError):
        link_owner(link(3, "D1"), link(4, "D2", unit="other"))


def test_a_period_in_a_query_is_a_week_a_month_or_a_quarter():
    assert period_arg("2026-W47").kind == "week"
    with pytest.raises(Invalid) as caught:
        period_arg("2026")
    assert caught.value.fields == {
        "query": {"period": ["a period is YYYY-MM-DD, YYYY-Www (ISO week), YYYY-MM, YYYY-Qn"]}
    }
