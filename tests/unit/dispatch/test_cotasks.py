"""Co-handling's pure rules (XN 复杂问题应协调多部门、科研单位、专家资源联合处置): who acts for
the lead or a co-handling department, which co-handler may take a task, the due day, a
co-task's life."""

from datetime import date, datetime

import pytest

from services.dispatch import cotasks as rules
from shared.auth import Principal
from shared.timezone import CHINA

HITECH = rules.Office("xn-hitech", "630100", frozenset({"staff-001", "staff-002"}))
TODAY = date(2026, 12, 1)


def who(role, unit, staff_id=None):
    return Principal(key_id="k", name="n", role=role, jurisdiction=unit, staff_id=staff_id)


@pytest.mark.parametrize(
    ("actor", "acts"),
    [
        (who("staff", "630100"), True),  # the department's office key
        (who("admin", "630000"), True),  # the province above it
        (who("district", "630100"), True),
        (who("staff", "630100", "staff-002"), True),  # its own staff member
        (who("staff", "630100", "staff-003"), False),  # staff of another department
        (who("district", "630100", "staff-003"), True),  # a manager of the unit
        (who("district", "630102"), False),  # a county below cannot lead a city department
        (who("staff", "630103"), False),
        (who("agency", "630100"), False),
        (who("enterprise", "630100"), False),
        (who("auditor", "630000"), False),
    ],
)
def test_who_acts_for_an_office(actor, acts):
    assert rules.acts_for(actor, HITECH) is acts


@pytest.mark.parametrize(
    ("unit", "within"),
    [
        ("630102", True),  # the demand's own unit
        ("630100", True),  # the city above it
        ("630000", True),  # the province
        ("630102-P0001", True),  # a park below it
        ("630103", False),  # a sibling county
        ("640000", False),  # another province
        ("nonsense", False),
    ],
)
def test_a_cohandler_serves_the_demands_jurisdiction(unit, within):
    assert rules.within_demand(unit, "630102") is within


def problem(kind, unit, **kw):
    return rules.cohandler_problem(
        kind,
        unit=unit,
        demand_jurisdiction="630102",
        lead_department="xn-hitech",
        today=TODAY,
        **kw,
    )


def test_which_cohandler_may_take_a_task():
    assert problem("department", "630102", department_id="cd-kjj") is None
    assert problem("department", "630103", department_id="cz-kjj") == (
        "id",
        "outside the demand's jurisdiction",
    )
    assert problem("department", "630100", department_id="xn-hitech") == (
        "id",
        "the lead department itself",
    )
    assert problem("expert", "630100", availability="available") is None
    assert problem("expert", "630103", availability="available")[1] == (
        "outside the demand's jurisdiction"
    )
    assert problem("expert", "630100", availability="unavailable", until=None) == (
        "id",
        "the expert is unavailable",
    )
    assert problem("expert", "630100", availability="unavailable", until=TODAY) == (
        "id",
        "the expert is unavailable until 2026-12-01",
    )
    # away until yesterday: back today
    assert problem("expert", "630100", availability="unavailable", until=date(2026, 11, 30)) is None
    assert problem("institute", None) is None  # named by the lead, no pool


def test_the_demand_must_be_complex_open_and_owned():
    assert rules.demand_problem("complex", "open") is None
    assert rules.demand_problem("general", "open") == (
        "code",
        "only a complex demand is co-handled (screen it as complex first)",
    )
    assert rules.demand_problem(None, "open") is not None  # complexity never announced
    assert rules.demand_problem("complex", "done") == ("code", "the demand is closed or rejected")
    assert rules.demand_problem("complex", None)[1].startswith("the demand has no responsible")


def test_the_due_day():
    assert rules.due_problem(TODAY, TODAY) is None
    assert rules.due_problem(date(2026, 11, 30), TODAY) == "in the past"
    assert rules.due_at(TODAY) == datetime(2026, 12, 2, tzinfo=CHINA)  # by the day's end


def test_a_cotasks_life():
    assert rules.move("report", "open") == "reported"
    assert rules.move("end", "open") == "ended_with_demand"
    for action, status in (
        ("report", "reported"),
        ("report", "ended_with_demand"),
        ("end", "reported"),
        ("end", "ended_with_demand"),
    ):
        with pytest.raises(rules.IllegalMove):
            rules.move(action, status)


def test_one_cotask_per_cohandler_until_it_ends_with_the_demand():
    taken = {("department", "cd-kjj"), ("institute", "青海大学")}
    assert rules.duplicate(taken, "department", "cd-kjj")
    assert rules.duplicate(taken, "institute", "青海大学")
    assert not rules.duplicate(taken, "expert", "cd-kjj")


def test_availability():
    assert rules.available_on("available", None, TODAY)
    assert not rules.available_on("unavailable", None, TODAY)
    assert not rules.available_on("unavailable", date(2026, 12, 5), TODAY)
    assert rules.available_on("unavailable", date(2026, 11, 1), TODAY)
