"""A city's alliance rule sets (published through shared.rulesets) and its menu, as use
cases over a fake unit of work; and the publication's checks, a pure function."""

from datetime import date, timedelta

import pytest

from services.dispatch.city_alliance import current_rules
from services.dispatch.city_rules import (
    checked_rules,
    get_menu,
    get_rules,
    publish_rules,
    put_menu_item,
)
from shared.timezone import china_today
from shared.usecases import Invalid
from tests.fakes import actor

CITY = actor("admin", "630100")
COUNTY = actor("staff", "630102")


def test_the_seeds_numbers_are_version_0_until_a_city_publishes(uow):
    out = get_rules(uow, COUNTY, "630100")  # a county reads its city's rules
    assert (out["version"], out["versions"]) == (0, [])
    assert out["rules"]["item_cap_percent"] == 50


def test_a_published_version_counts_up_and_keeps_the_seeds_other_numbers(uow):
    today = china_today()
    out = publish_rules(uow, CITY, "630100", {"effective_from": today, "min_monthly_volume": 10})
    assert out["version"] == 1 and out["rules"]["min_monthly_volume"] == 10
    assert out["rules"]["item_cap_percent"] == 50
    later = today + timedelta(days=30)
    out = publish_rules(uow, CITY, "630100", {"effective_from": later, "bond_max": 4000})
    assert [v["version"] for v in out["versions"]] == [1, 2]
    assert (
        out["versions"][1]["rules"]["bond_max"] == 4000
        and out["versions"][1]["published_by"] == "k-admin"
    )
    assert out["version"] == 1  # the second is not in force yet
    with uow.read() as s:
        assert current_rules(s, "630100", later)[0] == 2
        assert current_rules(s, "630200", later) == (0, current_rules(s, "630200", today)[1])


def test_publication_is_the_citys_and_refuses_the_past_and_inconsistent_sets(uow, refusal):
    today = china_today()
    status, e = refusal(lambda: publish_rules(uow, COUNTY, "630100", {"effective_from": today}))
    assert (status, e.message) == (403, "City 630100 is outside your subtree.")
    # a county-level unit running its own alliance publishes its own rules
    assert publish_rules(uow, CITY, "630102", {"effective_from": today})["version"] == 1
    status, e = refusal(lambda: get_rules(uow, actor("admin", "630200"), "630100"))
    assert status == 403
    assert get_rules(uow, CITY, "630100")["versions"] == []


def test_a_publication_is_checked_before_anything_is_written():
    today = date(2026, 11, 10)
    effective, rules = checked_rules({"effective_from": today, "warn_hours": 48}, today)
    assert effective == today and rules.warn_hours == 48 and rules.bond_max == 5000
    with pytest.raises(Invalid) as e:
        checked_rules({"effective_from": today - timedelta(days=1)}, today)
    assert e.value.fields == {"json": {"effective_from": ["rules take effect today or later"]}}
    with pytest.raises(Invalid) as e:
        checked_rules({"effective_from": today, "item_cap_percent": 150, "bond_max": -1}, today)
    assert e.value.message == "Inconsistent rule set."
    assert set(e.value.fields["json"]) == {"item_cap_percent", "bond_max"}


def test_the_menu_prices_market_items_with_their_bond(uow, refusal):
    entry = put_menu_item(
        uow,
        CITY,
        "630100",
        "ip_portfolio",
        {"price": 20000, "policy_coverage": 8000, "expected_settlement_months": 18},
    )
    assert (entry["price"], entry["bond"]) == (20000, 5000)  # min(12000, cap 5000)
    assert "coverage" in entry["bond_reason"] and entry["updated_by"] == "k-admin"
    assert [m["service_item"] for m in get_menu(uow, COUNTY, "630100")] == ["ip_portfolio"]
    status, e = refusal(lambda: put_menu_item(uow, CITY, "630100", "no_such", {"price": 1}))
    assert status == 404 and "no_such" in e.message
    status, e = refusal(
        lambda: put_menu_item(uow, CITY, "630100", "policy_consulting", {"price": 1})
    )
    assert status == 422 and e.fields == {"path": {"item": ["no market price for this item"]}}
