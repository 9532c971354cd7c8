"""Compliance with the frequency rules and the overdue sweep, against visits' own (SQLite)
database; visits logged through the ledger, events read back from the outbox."""

import json
from datetime import UTC, date, datetime

import pytest
from sqlalchemy import insert, select

from services.visits.compliance import (
    compliance,
    evaluate,
    flag_overdue,
    overdue_payload,
    provinces,
)
from services.visits.domain import RULE_KINDS, FrequencyRules, parse_period
from services.visits.models import enterprises, frequency_rules, outbox
from services.visits.rules import rules_for
from services.visits.teams import put_station, put_team, record_duty
from shared.usecases import Forbidden, Invalid
from tests.factories import VisitsWorld
from tests.fakes import actor

ADMIN = actor("admin", "630000", key_id="k")

# 西宁 (630100) with 城东区 (630102); 海东 (630200) with 乐都区 (630202); 城东区科学技术局
# (led by s-lead) is linked (包保) to E1 only
E1, E2, E3 = VisitsWorld.E1, VisitsWorld.E2, VisitsWorld.E3


def add(uow, table, *rows):
    with uow:
        for r in rows:
            uow.session.execute(insert(table).values(**r))
        uow.commit()


@pytest.fixture(autouse=True)
def team(uow):
    # a provincial service team linked to 西宁 and two of its key enterprises
    put_team(
        uow,
        ADMIN,
        "sx-1",
        {"name": "省服务专班一组", "jurisdiction": "630000", "linked_city": "630100",
         "key_enterprises": [E1, E2]},
    )  # fmt: skip
    return "sx-1"


def rows(uow, period, today, rule, root="630000"):
    with uow.read() as s:
        items, _ = evaluate(s, parse_period(period), root, today)
    return {r["subject_id"]: r for r in items if r["rule"] == rule}


def coverage(uow, period, today, root="630000"):
    with uow.read() as s:
        return evaluate(s, parse_period(period), root, today)[1]


def numbers(row):
    return row["required"], row["done"], row["shortfall"], row["status"]


def events(uow, event_type):
    with uow.read() as s:
        found = s.execute(select(outbox.c.body, outbox.c.routing_key)).all()
    return [(json.loads(b), k) for b, k in found if json.loads(b)["event_type"] == event_type]


# --- department_weekly ----------------------------------------------------------------------


def test_department_weekly_counts_the_iso_week_sunday_in_monday_out(uow, visit):
    # 2026-W47 is Monday 16 to Sunday 22 November
    visit(date(2026, 11, 22), [E1], staff_id="s-1")  # Sunday: counts for cd-kjj
    visit(date(2026, 11, 23), [E3], staff_id="s-2")  # Monday after: hd-kjj's next week

    closed = rows(uow, "2026-W47", date(2026, 11, 23), "department_weekly")
    assert set(closed) == {"cd-kjj", "hd-kjj"}
    assert numbers(closed["cd-kjj"]) == (1, 1, 0, "met")
    assert numbers(closed["hd-kjj"]) == (1, 0, 1, "short")
    assert closed["hd-kjj"]["rule_version"] == 0
    assert closed["hd-kjj"]["subject_name"] == "乐都区科学技术局"

    # on the week's own Sunday it has not closed yet: open, not short
    still_open = rows(uow, "2026-W47", date(2026, 11, 22), "department_weekly")
    assert numbers(still_open["hd-kjj"]) == (1, 0, 1, "open")

    # the Monday visit counts for 2026-W48
    next_week = rows(uow, "2026-W48", date(2026, 11, 30), "department_weekly")
    assert numbers(next_week["hd-kjj"]) == (1, 1, 0, "met")
    assert numbers(next_week["cd-kjj"]) == (1, 0, 1, "short")


def test_department_weekly_counts_visits_not_enterprises(uow, visit):
    visit(date(2026, 11, 17), [E1, E2], staff_id="s-1")
    visit(date(2026, 11, 18), [E1], department_id="cd-kjj")
    visit(date(2026, 11, 19), [E1], team_id="sx-1")  # a team visit: no department
    week = rows(uow, "2026-W47", date(2026, 11, 25), "department_weekly")
    assert numbers(week["cd-kjj"]) == (1, 2, 0, "met")


def test_department_weekly_only_in_the_subtree_asked_for(uow):
    assert set(rows(uow, "2026-W47", date(2026, 11, 25), "department_weekly", "630200")) == {
        "hd-kjj"
    }
    # months and quarters have no weekly rows
    assert rows(uow, "2026-10", date(2026, 11, 25), "department_weekly") == {}


# --- team_city_monthly ------------------------------------------------------------------------


def test_team_city_monthly_counts_team_visits_in_the_linked_city(uow, visit):
    # October 2026: the team visits 乐都 (another city) and a staff member visits 西宁
    visit(date(2026, 10, 15), [E3], team_id="sx-1")
    visit(date(2026, 10, 20), [E1], staff_id="s-1")
    # 1 November is the next month
    visit(date(2026, 11, 1), [E1, E2], team_id="sx-1")

    october = rows(uow, "2026-10", date(2026, 11, 1), "team_city_monthly")
    assert numbers(october["sx-1"]) == (1, 0, 1, "short")
    assert october["sx-1"]["linked_city"] == "630100"
    assert october["sx-1"]["jurisdiction"] == "630000"

    # one visit to two enterprises of the city is one trip
    november = rows(uow, "2026-11", date(2026, 11, 25), "team_city_monthly")
    assert numbers(november["sx-1"]) == (1, 1, 0, "met")

    # a team visit to 西宁 on 31 October, the month's last day, makes October met
    visit(date(2026, 10, 31), [E2], team_id="sx-1")
    october = rows(uow, "2026-10", date(2026, 11, 1), "team_city_monthly")
    assert numbers(october["sx-1"]) == (1, 1, 0, "met")
    november = rows(uow, "2026-11", date(2026, 11, 25), "team_city_monthly")
    assert november["sx-1"]["done"] == 1


# --- team_key_quarterly and the coverage list -------------------------------------------------


def test_team_key_quarterly_per_key_enterprise_to_the_quarters_last_day(uow, visit):
    visit(date(2026, 9, 30), [E1], team_id="sx-1")  # Q3's last day
    visit(date(2026, 10, 1), [E2], team_id="sx-1")  # Q4's first day
    visit(date(2026, 9, 15), [E2], staff_id="s-1")  # not the team's visit

    q3 = rows(uow, "2026-Q3", date(2026, 10, 1), "team_key_quarterly")
    assert set(q3) == {f"sx-1/{E1}", f"sx-1/{E2}"}
    assert numbers(q3[f"sx-1/{E1}"]) == (1, 1, 0, "met")
    assert numbers(q3[f"sx-1/{E2}"]) == (1, 0, 1, "short")
    assert q3[f"sx-1/{E2}"]["subject_name"] == "西宁城东光伏有限公司"
    assert q3[f"sx-1/{E2}"]["team_id"] == "sx-1"

    q4 = rows(uow, "2026-Q4", date(2026, 11, 25), "team_key_quarterly")
    assert numbers(q4[f"sx-1/{E1}"]) == (1, 0, 1, "open")
    assert numbers(q4[f"sx-1/{E2}"]) == (1, 1, 0, "met")


def test_coverage_reports_too_few_key_enterprises(uow, visit):
    visit(date(2026, 9, 30), [E1], team_id="sx-1")
    visit(date(2026, 9, 29), [E1], team_id="sx-1")
    assert coverage(uow, "2026-Q3", date(2026, 10, 1)) == [
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
    assert coverage(uow, "2026-Q3", date(2026, 10, 1), root="630200") == []
    assert coverage(uow, "2026-09", date(2026, 10, 1)) == []  # quarters only


def test_coverage_with_ten_key_enterprises_is_enough(uow, visit):
    codes = [f"91630102MA00K{i:02d}XX0" for i in range(10)]
    add(
        uow,
        enterprises,
        *[{"credit_code": c, "name": c, "jurisdiction": "630102", "is_key": True} for c in codes],
    )
    put_team(
        uow,
        ADMIN,
        "sx-2",
        {"name": "省服务专班二组", "jurisdiction": "630000", "linked_city": "630100",
         "key_enterprises": codes},
    )  # fmt: skip
    visit(date(2026, 8, 3), codes[:3], team_id="sx-2")
    [_, sx2] = coverage(uow, "2026-Q3", date(2026, 10, 1))
    assert (sx2["linked"], sx2["enough_linked"], sx2["visited"], sx2["coverage"]) == (
        10,
        True,
        3,
        0.3,
    )


# --- leader_quarterly -------------------------------------------------------------------------


def test_leader_quarterly_counts_visits_to_linked_enterprises_only(uow, visit):
    visit(date(2026, 6, 10), [E2], staff_id="s-lead")  # Q2: E2 is not cd-kjj's
    visit(date(2026, 7, 1), [E1], staff_id="s-lead")  # Q3: E1 is linked
    visit(date(2026, 6, 11), [E1], staff_id="s-1")  # not the leader

    q2 = rows(uow, "2026-Q2", date(2026, 7, 1), "leader_quarterly")
    assert set(q2) == {"cd-kjj/s-lead"}  # hd-kjj has no leader
    assert numbers(q2["cd-kjj/s-lead"]) == (1, 0, 1, "short")
    assert q2["cd-kjj/s-lead"]["subject_name"] == "赵敏"
    assert q2["cd-kjj/s-lead"]["department_id"] == "cd-kjj"
    assert q2["cd-kjj/s-lead"]["linked_enterprises"] == 1

    q3 = rows(uow, "2026-Q3", date(2026, 10, 1), "leader_quarterly")
    assert numbers(q3["cd-kjj/s-lead"]) == (1, 1, 0, "met")


# --- station_duty -----------------------------------------------------------------------------


@pytest.fixture
def station(uow):
    put_station(
        uow,
        ADMIN,
        "cx-1",
        {"name": "城东区服务站", "jurisdiction": "630102", "staff_ids": ["s-1", "s-3"]},
    )
    return "cx-1"


def duty(uow, staff_id, *days):
    return record_duty(uow, ADMIN, "cx-1", {"staff_id": staff_id, "days": list(days)})


def test_station_duty_in_a_normal_week(uow, station):
    # 2026-W10, 2 to 8 March: 5 working days → 2 duty days
    duty(uow, "s-1", date(2026, 3, 2), date(2026, 3, 3))
    duty(uow, "s-3", date(2026, 3, 4), date(2026, 3, 7))  # Saturday 7 March is not worked
    week = rows(uow, "2026-W10", date(2026, 3, 9), "station_duty")
    assert set(week) == {"cx-1/s-1", "cx-1/s-3"}
    assert numbers(week["cx-1/s-1"]) == (2, 2, 0, "met")
    assert numbers(week["cx-1/s-3"]) == (2, 1, 1, "short")
    assert week["cx-1/s-3"]["working_days"] == 5
    assert week["cx-1/s-3"]["station_id"] == "cx-1"
    assert week["cx-1/s-3"]["subject_name"] == "李娜"
    assert week["cx-1/s-3"]["jurisdiction"] == "630102"


def test_station_duty_in_the_national_day_week(uow, station):
    # 2025-W40: only 29 and 30 September are working days → ceil(2 × 2 / 5) = 1
    duty(uow, "s-1", date(2025, 10, 1), date(2025, 10, 2))  # on duty on holidays only
    duty(uow, "s-3", date(2025, 9, 30))
    week = rows(uow, "2025-W40", date(2025, 10, 6), "station_duty")
    assert numbers(week["cx-1/s-1"]) == (1, 0, 1, "short")
    assert numbers(week["cx-1/s-3"]) == (1, 1, 0, "met")
    assert week["cx-1/s-1"]["working_days"] == 2


def test_station_duty_a_make_up_sunday_counts(uow, station):
    # 2025-W39: 6 working days (Sunday 28 September is a make-up workday) → still 2
    duty(uow, "s-1", date(2025, 9, 27), date(2025, 9, 28))
    week = rows(uow, "2025-W39", date(2025, 9, 29), "station_duty")
    assert numbers(week["cx-1/s-1"]) == (2, 1, 1, "short")  # Saturday 27th does not count
    assert week["cx-1/s-1"]["working_days"] == 6


def test_station_duty_in_a_week_of_holidays_asks_nothing(uow, station):
    # 2026-W08: Spring Festival all week
    week = rows(uow, "2026-W08", date(2026, 2, 23), "station_duty")
    assert numbers(week["cx-1/s-1"]) == (0, 0, 0, "met")
    assert week["cx-1/s-1"]["working_days"] == 0


# --- published rule versions ------------------------------------------------------------------


def publish(uow, jurisdiction, version, effective_from, **params):
    add(
        uow,
        frequency_rules,
        {
            "jurisdiction": jurisdiction,
            "version": version,
            "effective_from": effective_from,
            "params": json.dumps(FrequencyRules(**params).as_dict()),
            "published_by": "k",
            "published_at": datetime(2026, 1, 1, tzinfo=UTC),
        },
    )


def test_a_city_rule_version_applies_in_its_subtree_only(uow, station, visit):
    # 海东 asks for 2 department visits a week from 2026-11-01; a later version (3 a week)
    # takes effect on 1 December, after 2026-W49 began (30 November)
    publish(uow, "630200", 1, date(2026, 11, 1), department_weekly=2)
    publish(uow, "630200", 2, date(2026, 12, 1), department_weekly=3)
    # 西宁 raises the duty days
    publish(uow, "630100", 1, date(2026, 1, 1), station_duty_days_per_five=5)

    visit(date(2026, 11, 17), [E3], staff_id="s-2")
    w47 = rows(uow, "2026-W47", date(2026, 11, 23), "department_weekly")
    assert numbers(w47["hd-kjj"]) == (2, 1, 1, "short")
    assert w47["hd-kjj"]["rule_version"] == 1
    assert numbers(w47["cd-kjj"]) == (1, 0, 1, "short")  # 西宁's version keeps the default
    assert w47["cd-kjj"]["rule_version"] == 1

    # a week that began before 1 November keeps the defaults
    w44 = rows(uow, "2026-W44", date(2026, 11, 23), "department_weekly")  # 26 Oct – 1 Nov
    assert (w44["hd-kjj"]["required"], w44["hd-kjj"]["rule_version"]) == (1, 0)

    # the version in effect at the period's start counts, not one starting within it
    w49 = rows(uow, "2026-W49", date(2026, 12, 7), "department_weekly")
    assert (w49["hd-kjj"]["required"], w49["hd-kjj"]["rule_version"]) == (2, 1)
    w50 = rows(uow, "2026-W50", date(2026, 12, 14), "department_weekly")
    assert (w50["hd-kjj"]["required"], w50["hd-kjj"]["rule_version"]) == (3, 2)

    # the station in 城东区 (西宁) must be staffed every working day
    duty_w47 = rows(uow, "2026-W47", date(2026, 11, 23), "station_duty")
    assert duty_w47["cx-1/s-1"]["required"] == 5

    with uow.read() as s:
        assert rules_for(s, "630202", date(2026, 11, 16))[:2] == ("630200", 1)
        assert rules_for(s, "630202", date(2026, 10, 31))[:2] == ("default", 0)
        assert rules_for(s, "630102", date(2026, 11, 16))[:2] == ("630100", 1)
        assert rules_for(s, "630000", date(2026, 11, 16))[:2] == ("default", 0)


def test_the_nearest_jurisdiction_wins_over_the_province(uow):
    publish(uow, "630000", 1, date(2026, 1, 1), department_weekly=4)
    publish(uow, "630200", 1, date(2026, 1, 1), department_weekly=2)
    w47 = rows(uow, "2026-W47", date(2026, 11, 23), "department_weekly")
    assert w47["cd-kjj"]["required"] == 4
    assert w47["hd-kjj"]["required"] == 2
    # the province's version reaches the provincial team too
    publish(uow, "630000", 2, date(2026, 1, 1), team_city_monthly=2)
    october = rows(uow, "2026-10", date(2026, 11, 1), "team_city_monthly")
    assert (october["sx-1"]["required"], october["sx-1"]["rule_version"]) == (2, 2)


# --- the overdue sweep ------------------------------------------------------------------------


def test_flag_overdue_announces_each_short_subject_once(uow, visit):
    # today is Wednesday 25 November 2026: the last closed week is 2026-W47,
    # the last closed month 2026-10 and the last closed quarter 2026-Q3
    visit(date(2026, 11, 20), [E1], staff_id="s-1")  # cd-kjj meets W47
    visit(date(2026, 10, 10), [E1], team_id="sx-1")  # the team meets October
    visit(date(2026, 11, 24), [E3], staff_id="s-2")  # hd-kjj, but in W48

    assert flag_overdue(uow, date(2026, 11, 25)) == 4
    flagged = events(uow, "visit.overdue")
    payloads = {
        (e["payload"]["rule"], e["payload"]["subject_id"], e["payload"]["period"]): e
        for e, _ in flagged
    }
    assert set(payloads) == {
        ("department_weekly", "hd-kjj", "2026-W47"),
        ("team_key_quarterly", f"sx-1/{E1}", "2026-Q3"),
        ("team_key_quarterly", f"sx-1/{E2}", "2026-Q3"),
        ("leader_quarterly", "cd-kjj/s-lead", "2026-Q3"),
    }
    dept = payloads[("department_weekly", "hd-kjj", "2026-W47")]
    assert dept["jurisdiction"] == "630202"
    assert dept["payload"] == {
        "rule": "department_weekly",
        "rule_version": 0,
        "subject_type": "department",
        "subject_id": "hd-kjj",
        "subject_name": "乐都区科学技术局",
        "period": "2026-W47",
        "required_count": 1,
        "done": 0,
        "shortfall": 1,
        "source": RULE_KINDS["department_weekly"][2],
    }
    leader = payloads[("leader_quarterly", "cd-kjj/s-lead", "2026-Q3")]["payload"]
    assert (leader["subject_type"], leader["required_count"], leader["done"]) == ("leader", 1, 0)
    routing = {k for e, k in flagged if e["payload"]["subject_id"] == "hd-kjj"}
    assert routing == {"visit.overdue.630000.630200.630202"}

    # a second run (the same day or the next) announces nothing more
    assert flag_overdue(uow, date(2026, 11, 25)) == 0
    assert flag_overdue(uow, date(2026, 11, 26)) == 0
    assert len(events(uow, "visit.overdue")) == 4


def test_flag_overdue_flags_the_next_closed_week_separately(uow, visit):
    # nothing visited: both departments in W47, the team in October, its two key
    # enterprises and the leader in Q3
    assert flag_overdue(uow, date(2026, 11, 25)) == 6
    # on Monday 30 November 2026-W48 has closed: hd-kjj visited on the 24th, cd-kjj did not
    visit(date(2026, 11, 24), [E3], staff_id="s-2")
    assert flag_overdue(uow, date(2026, 11, 30)) == 1
    weekly = sorted(
        (e["payload"]["subject_id"], e["payload"]["period"])
        for e, _ in events(uow, "visit.overdue")
        if e["payload"]["rule"] == "department_weekly"
    )
    assert weekly == [("cd-kjj", "2026-W47"), ("cd-kjj", "2026-W48"), ("hd-kjj", "2026-W47")]


# --- the report and the sweep's parts ---------------------------------------------------------


def test_the_report_names_its_period_and_subtree(uow, visit):
    visit(date(2026, 11, 17), [E3], staff_id="s-2")
    report = compliance(uow, actor("district", "630200"), {"period": "2026-W47"})
    assert (report["period"], report["from"], report["to"], report["jurisdiction"]) == (
        "2026-W47",
        date(2026, 11, 16),
        date(2026, 11, 22),
        "630200",
    )
    assert [(i["subject_id"], i["done"]) for i in report["items"]] == [("hd-kjj", 1)]
    assert report["key_enterprise_coverage"] == []
    quarter = compliance(uow, ADMIN, {"period": "2026-Q3", "jurisdiction": "630000"})
    assert [c["team_id"] for c in quarter["key_enterprise_coverage"]] == ["sx-1"]


def test_the_report_checks_its_period_and_subtree(uow):
    with pytest.raises(Invalid) as caught:
        compliance(uow, ADMIN, {"period": "2026"})
    assert list(caught.value.fields["query"]) == ["period"]
    with pytest.raises(Forbidden, match="Jurisdiction 630100 is outside your subtree"):
        compliance(
            uow, actor("district", "630200"), {"period": "2026-W47", "jurisdiction": "630100"}
        )


def test_the_sweep_covers_each_province_once_and_announces_the_items_numbers():
    assert provinces(["630102", "630202", "630000", "620100"]) == ["620000", "630000"]
    item = {
        "rule": "leader_quarterly",
        "rule_version": 2,
        "subject_type": "leader",
        "subject_id": "cd-kjj/s-lead",
        "subject_name": "赵敏",
        "jurisdiction": "630102",
        "required": 1,
        "done": 0,
        "shortfall": 1,
        "status": "short",
        "source": "XM",
        "department_id": "cd-kjj",
    }
    assert overdue_payload(parse_period("2026-Q3"), item) == {
        "rule": "leader_quarterly",
        "rule_version": 2,
        "subject_type": "leader",
        "subject_id": "cd-kjj/s-lead",
        "subject_name": "赵敏",
        "period": "2026-Q3",
        "required_count": 1,
        "done": 0,
        "shortfall": 1,
        "source": "XM",
    }
