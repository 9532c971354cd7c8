"""The compliance core without a database: facts in, items out."""

from datetime import date

from services.visits.assessment import (
    Department,
    Facts,
    KeyEnterprise,
    OnDuty,
    Team,
    assess,
    team_coverage,
)
from services.visits.domain import RULE_KINDS, FrequencyRules, parse_period
from shared.periods import parse_period as any_period

W47 = parse_period("2026-W47")  # Monday 16 to Sunday 22 November 2026, 5 working days
THURSDAY_AFTER = date(2026, 11, 26)


def numbers(item):
    return item["required"], item["done"], item["shortfall"], item["status"]


def by_subject(items):
    return {i["subject_id"]: i for i in items}


def test_a_week_counts_departments_then_station_staff():
    facts = Facts(
        W47,
        rules={"630202": (3, FrequencyRules(department_weekly=2))},
        departments=(
            Department("cd-kjj", "城东区科学技术局", "630102", visits=1),
            Department("hd-kjj", "乐都区科学技术局", "630202", visits=1),
        ),
        on_duty=(
            OnDuty("cx-1", "630102", "s-1", "陈静", (date(2026, 11, 16), date(2026, 11, 17))),
            OnDuty("cx-1", "630102", "s-3", "李娜", (date(2026, 11, 21),)),  # a Saturday
        ),
    )
    items, coverage = assess(facts, THURSDAY_AFTER)
    assert coverage == []
    assert [(i["rule"], i["subject_id"]) for i in items] == [
        ("department_weekly", "cd-kjj"),
        ("department_weekly", "hd-kjj"),
        ("station_duty", "cx-1/s-1"),
        ("station_duty", "cx-1/s-3"),
    ]
    cd, hd, s1, s3 = items
    assert cd == {
        "rule": "department_weekly",
        "source": RULE_KINDS["department_weekly"][2],
        "rule_version": 0,  # no version for 630102 in the facts: the defaults
        "subject_type": "department",
        "subject_id": "cd-kjj",
        "subject_name": "城东区科学技术局",
        "jurisdiction": "630102",
        "required": 1,
        "done": 1,
        "shortfall": 0,
        "status": "met",
    }
    assert numbers(hd) == (2, 1, 1, "short")
    assert hd["rule_version"] == 3
    assert numbers(s1) == (2, 2, 0, "met")
    assert numbers(s3) == (2, 0, 2, "short")  # a Saturday on duty is not a working day
    assert (s3["subject_type"], s3["subject_name"]) == ("station_staff", "李娜")
    assert (s3["station_id"], s3["working_days"]) == ("cx-1", 5)


def test_a_week_not_yet_closed_is_open_not_short():
    facts = Facts(W47, departments=(Department("hd-kjj", "乐都区科学技术局", "630202"),))
    [item], _ = assess(facts, date(2026, 11, 22))
    assert numbers(item) == (1, 0, 1, "open")


def test_a_month_counts_each_teams_trips_to_its_city():
    facts = Facts(
        parse_period("2026-10"),
        rules={"630000": (2, FrequencyRules(team_city_monthly=2))},
        teams=(
            Team("sx-1", "省服务专班一组", "630000", "630100", city_visits=1),
            Team("sx-2", "省服务专班二组", "630000", "630200", city_visits=2),
        ),
        departments=(Department("cd-kjj", "城东区科学技术局", "630102", visits=9),),
    )
    items, coverage = assess(facts, date(2026, 11, 1))
    assert coverage == []
    sx = by_subject(items)
    assert set(sx) == {"sx-1", "sx-2"}  # no department rule in a month
    assert numbers(sx["sx-1"]) == (2, 1, 1, "short")
    assert (sx["sx-1"]["linked_city"], sx["sx-1"]["rule_version"]) == ("630100", 2)
    assert numbers(sx["sx-2"]) == (2, 2, 0, "met")


def test_a_quarter_counts_key_enterprises_then_leaders():
    team = Team(
        "sx-1",
        "省服务专班一组",
        "630000",
        "630100",
        key_enterprises=(KeyEnterprise("E1", "一号企业", 2), KeyEnterprise("E2", "二号企业")),
    )
    facts = Facts(
        parse_period("2026-Q3"),
        teams=(team,),
        departments=(
            Department(
                "cd-kjj", "城东区", "630102", leader_id="s-lead", leader_name="赵敏", linked=1
            ),
            Department("hd-kjj", "乐都区", "630202"),  # no leader: no item
            Department("xn-fgw", "西宁发改委", "630100", leader_id="s-9", leader_visits=1),
        ),
    )
    items, coverage = assess(facts, date(2026, 10, 1))
    assert [i["subject_id"] for i in items] == [
        "sx-1/E1",
        "sx-1/E2",
        "cd-kjj/s-lead",
        "xn-fgw/s-9",
    ]
    e1, e2, lead, unknown = items
    assert numbers(e1) == (1, 2, 0, "met")
    assert numbers(e2) == (1, 0, 1, "short")
    assert (e2["subject_type"], e2["subject_name"], e2["team_id"]) == (
        "team_key_enterprise",
        "二号企业",
        "sx-1",
    )
    assert numbers(lead) == (1, 0, 1, "short")
    assert (lead["subject_name"], lead["department_id"], lead["linked_enterprises"]) == (
        "赵敏",
        "cd-kjj",
        1,
    )
    # a leader with no linked enterprise is asked nothing; an unknown leader by id
    assert numbers(unknown) == (0, 1, 0, "met")
    assert unknown["subject_name"] == "s-9"
    assert coverage == [
        {
            "team_id": "sx-1",
            "team_name": "省服务专班一组",
            "linked": 2,
            "minimum": 10,
            "enough_linked": False,
            "visited": 1,
            "coverage": 0.5,
        }
    ]


def test_coverage_of_a_team_without_key_enterprises_is_none():
    team = Team("sx-3", "三组", "630000", "630100")
    cover = team_coverage(team, FrequencyRules(team_min_key_enterprises=0))
    assert (cover["linked"], cover["enough_linked"], cover["coverage"]) == (0, True, None)


def test_the_places_are_every_subjects_jurisdiction():
    facts = Facts(
        W47,
        departments=(Department("d", "d", "630102"),),
        on_duty=(OnDuty("cx", "630103", "s", "s"),),
        teams=(Team("t", "t", "630000", "630100"),),
    )
    assert facts.places() == {"630102", "630103", "630000"}
    assert facts.rules_of("630102") == (0, FrequencyRules())


def test_a_period_of_another_kind_has_no_items():
    assert assess(Facts(any_period("2026")), THURSDAY_AFTER) == ([], [])
