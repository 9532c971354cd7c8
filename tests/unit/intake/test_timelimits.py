"""Time limits: the nearest jurisdiction with its own rules wins (pure), setting them is
for the jurisdictions the key sees, and a new demand takes a change at once in the
process that made it, within ``RULES_TTL`` seconds in the others."""

from __future__ import annotations

from datetime import UTC, date, datetime
from types import SimpleNamespace

import pytest
from sqlalchemy import insert

from services.intake import timelimits
from services.intake.calendar import DEFAULT_RESPONSE_HOURS, DEFAULT_TIME_LIMITS, WorkingCalendar
from services.intake.models import time_limit_rules
from services.intake.timelimits import get_time_limits, rules_in_force, set_time_limits
from shared.errors import status_of
from shared.usecases import NotFound
from tests.fakes import actor

PATH = ["630000", "630100", "630102"]


def own(simple, general, complex, closures="[]", response_hours=None):
    return SimpleNamespace(
        simple=simple,
        general=general,
        complex=complex,
        closures=closures,
        response_hours=response_hours,
    )


def test_the_nearest_jurisdiction_with_rules_wins_else_the_defaults():
    assert rules_in_force(PATH, {})[:2] == (
        "default",
        {**DEFAULT_TIME_LIMITS, "response_hours": DEFAULT_RESPONSE_HOURS},
    )
    rules = {"630000": own(0, 7, 30, response_hours=2), "630100": own(1, 4, 15, '["2026-12-24"]')}
    source, limits, calendar = rules_in_force(PATH, rules)
    assert (source, limits) == (  # a jurisdiction without its own response hours: the default
        "630100",
        {"simple": 1, "general": 4, "complex": 15, "response_hours": DEFAULT_RESPONSE_HOURS},
    )
    assert rules_in_force(PATH[:1], rules)[1]["response_hours"] == 2
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
    assert inherited["response_hours"] == DEFAULT_RESPONSE_HOURS  # not sent: the default
    faster = set_time_limits(uow, actor("admin", "630100"), "630100", body | {"response_hours": 2})
    assert faster["response_hours"] == 2
    assert get_time_limits(uow, actor("district"), "630102")["response_hours"] == 2


def test_rules_outside_the_subtree_or_of_no_division_are_not_found(uow):
    body = {"simple": 1, "general": 3, "complex": 10, "closures": []}
    with pytest.raises(NotFound) as outside:
        set_time_limits(uow, actor("admin"), "630100", body)
    assert status_of(outside.value) == 404
    assert outside.value.message == "No jurisdiction 630100 in your subtree."
    with pytest.raises(NotFound):
        get_time_limits(uow, actor("admin", "630100"), "630199")
    assert uow.commits == 0


# -- the rules a new demand takes: this process's copy ---------------------------------
COMPLEX_IN_ONE_DAY = {"simple": 0, "general": 1, "complex": 1, "closures": []}


def test_a_change_through_the_api_applies_to_the_next_demand_at_once(uow, accept):
    before = accept(complexity="complex")  # 20 working days by default; the copy is read
    set_time_limits(uow, actor("admin", "630100"), "630100", COMPLEX_IN_ONE_DAY)
    after = accept(complexity="complex")
    assert after["expected_at"] < before["expected_at"]
    assert after["expected_at"] == _due_in_working_days(after, 1)


def test_a_change_by_another_process_applies_once_the_copy_is_rules_ttl_old(
    uow, accept, monkeypatch
):
    now = [1000.0]
    monkeypatch.setattr(timelimits, "clock", lambda: now[0])
    before = accept(complexity="complex")
    with uow:  # another process sets the rules: this one's copy is not told
        uow.session.execute(
            insert(time_limit_rules).values(
                jurisdiction="630102",
                simple=0,
                general=1,
                complex=1,
                closures="[]",
                updated_by="k-admin",
                updated_at=datetime.now(UTC),
            )
        )
        uow.commit()
    now[0] += timelimits.RULES_TTL - 0.1
    stale = accept(complexity="complex")
    assert stale["expected_at"] == _due_in_working_days(stale, 20) == before["expected_at"]
    now[0] += 0.1
    fresh = accept(complexity="complex")
    assert fresh["expected_at"] == _due_in_working_days(fresh, 1) < before["expected_at"]


def _due_in_working_days(demand, days):
    return WorkingCalendar().deadline(demand["accepted_at"], days).due.astimezone(UTC)
