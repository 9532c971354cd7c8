"""The frequency rules as versioned data, read and published on a fake unit of work."""

from datetime import timedelta

import pytest

from services.visits.domain import RULE_KINDS, FrequencyRules
from services.visits.rules import get_rules, publish_rules, rules_for
from shared.timezone import china_today
from shared.usecases import Forbidden, Invalid
from tests.fakes import actor

ADMIN = actor("admin", "630000", key_id="k")
XINING = actor("district", "630100", key_id="k-xn")


def test_the_defaults_are_version_0(uow):
    rules = get_rules(uow, XINING, "630102")
    assert (rules["source"], rules["version"], rules["versions"]) == ("default", 0, [])
    assert rules["rules"] == FrequencyRules().as_dict()
    assert rules["rule_kinds"]["station_duty"] == {
        "subject": "station_staff",
        "period": "week",
        "source": RULE_KINDS["station_duty"][2],
    }
    # a key reads the rules above it (which it inherits), not a sibling's
    assert get_rules(uow, XINING, "630000")["version"] == 0
    with pytest.raises(Forbidden, match="Jurisdiction 630200 is outside your subtree"):
        get_rules(uow, XINING, "630200")


def test_a_version_keeps_the_fields_not_sent_as_in_force(uow):
    today = china_today()
    first = publish_rules(uow, ADMIN, "630000", {"effective_from": today, "department_weekly": 3})
    assert (first["version"], first["source"], first["rules"]["department_weekly"]) == (
        1,
        "630000",
        3,
    )
    city = publish_rules(uow, XINING, "630100", {"effective_from": today, "leader_quarterly": 2})
    assert city["rules"] == {
        **FrequencyRules().as_dict(),
        "department_weekly": 3,  # inherited from the province's version in force
        "leader_quarterly": 2,
    }
    [v] = city["versions"]
    assert (v["version"], v["effective_from"], v["published_by"]) == (1, today, "k-xn")
    assert v["rules"] == city["rules"]
    later = publish_rules(
        uow, XINING, "630100", {"effective_from": today + timedelta(days=7), "team_city_monthly": 0}
    )
    assert later["version"] == 1  # version 2 is not in force yet
    assert [v["version"] for v in later["versions"]] == [1, 2]
    with uow.read() as s:
        assert rules_for(s, "630102", today + timedelta(days=7))[:2] == ("630100", 2)
        assert rules_for(s, "630102", today + timedelta(days=7))[2].leader_quarterly == 2
    assert uow.committed == []  # rules are not announced


def test_a_version_is_refused_in_the_past_inconsistent_or_elsewhere(uow):
    today = china_today()
    with pytest.raises(Invalid) as caught:
        publish_rules(uow, ADMIN, "630000", {"effective_from": today - timedelta(days=1)})
    assert caught.value.fields == {"json": {"effective_from": ["rules take effect today or later"]}}
    with pytest.raises(Invalid) as caught:
        publish_rules(
            uow,
            ADMIN,
            "630000",
            {"effective_from": today, "station_duty_days_per_five": 6, "department_weekly": -1},
        )
    assert caught.value.message == "Inconsistent rule set."
    assert caught.value.fields == {
        "json": {
            "department_weekly": ["must not be negative"],
            "station_duty_days_per_five": ["at most 5 working days out of 5"],
        }
    }
    with pytest.raises(Forbidden):
        publish_rules(uow, XINING, "630200", {"effective_from": today})
    assert get_rules(uow, ADMIN, "630000")["versions"] == []
