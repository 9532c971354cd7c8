"""Time limits: the nearest jurisdiction with its own rules wins (pure), and setting
them is for the jurisdictions the key sees."""

from __future__ import annotations

from datetime import date
from types import SimpleNamespace

import pytest

from services.intake.calendar import DEFAULT_TIME_LIMITS
from services.intake.timelimits import get_time_limits, rules_in_force, set_time_limits
from shared.errors import status_of
from shared.usecases import NotFound
from tests.fakes import actor

PATH = ["630000", "630100", "630102"]


def own(simple, general, complex, closures="[]"):
    return SimpleNamespace(simple=simple, general=general, complex=complex, closures=closures)


def test_the_nearest_jurisdiction_with_rules_wins_else_the_defaults():
    assert rules_in_force(PATH, {})[:2] == ("default", DEFAULT_TIME_LIMITS)
    rules = {"630000": own(0, 7, 30), "630100": own(1, 4, 15, '["2026-12-24"]')}
    source, limits, calendar = rules_in_force(PATH, rules)
    assert (source, limits) == ("630100", {"simple": 1, "general": 4, "complex": 15})
    assert calendar.closures == frozenset({date(2026, 12, 24)})
    assert rules_in_force(PATH[:1], rules)[0] == "630000"


def test_a_city_sets_its_rules_and_its_districts_inherit_them(uow):
    body = {"simple": 1, "general": 3, "complex": 10, "closures": [date(2026, 12, 24)] * 2}
    out = set_time_limits(uow, actor("admin", "630100"), "630100", body)
    assert out["source"] == "630100" and out["closures"] == [date(2026, 12, 24)]
    inherited = get_time_limits(uow, actor("district"), "630102")
    assert (inherited["jurisdiction"], inherited["source"], inherited["general"]) == (
        "630102",
        "630100",
        3,
    )
    assert get_time_limits(uow, actor("district", "630200"), "630200")["source"] == "default"


def test_rules_outside_the_subtree_or_of_no_division_are_not_found(uow):
    body = {"simple": 1, "general": 3, "complex": 10, "closures": []}
    with pytest.raises(NotFound) as outside:
        set_time_limits(uow, actor("admin"), "630100", body)
    assert status_of(outside.value) == 404
    assert outside.value.message == "No jurisdiction 630100 in your subtree."
    with pytest.raises(NotFound):
        get_time_limits(uow, actor("admin", "630100"), "630199")
    assert uow.commits == 0
