"""The service dossier from envelopes alone: no database."""

from datetime import UTC, date, datetime, timedelta

from services.archive.dossier import dossier_of

SINCE = datetime(2026, 10, 31, 16, 0, tzinfo=UTC)  # 1 November 2026, 00:00 in China
FIRST, LAST = date(2026, 11, 1), date(2026, 11, 30)
ENT = {"credit_code": "91630102MA7522T5X6", "name": "青海高原新材料科技有限公司"}


def env(event_type, payload, days=0, jurisdiction="630102"):
    return {
        "event_type": event_type,
        "occurred_at": (SINCE + timedelta(days=days)).isoformat(),
        "jurisdiction": jurisdiction,
        "payload": payload,
    }


def visit(visit_id, visited_on, version=1, days=0, **more):
    payload = {
        "visit_id": visit_id,
        "visited_on": visited_on,
        "staff_name": "陈静",
        "department_name": "城东区科学技术局",
        "enterprises": [ENT],
        "kind": "field",
        "version": version,
        **more,
    }
    return env("visit.logged" if version == 1 else "visit.revised", payload, days)


def dossier(events):
    return dossier_of(events, SINCE, FIRST, LAST)


def test_the_contact_list_is_the_latest_known_whenever_it_was_set():
    events = [
        env("department.updated", {"id": "d1", "name": "科技局", "jurisdiction": "630102"}, -90),
        env(
            "staff.updated",
            {"id": "s1", "name": "陈静", "department_id": "d1", "phone": "13800971000"},
            -90,
        ),
        env(
            "department.updated",
            {
                "id": "d1",
                "name": "城东区科学技术局",
                "jurisdiction": "630102",
                "leader_staff_id": "s1",
                "phone": "0971-6123456",
                "service_hours": "工作日 9:00–18:00",
            },
            3,
        ),
        env(
            "assignment.made",
            {
                "kind": "owner",
                "enterprise_credit_code": ENT["credit_code"],
                "assignee_name": "陈静",
                "assignee_id": "s1",
            },
            -5,
        ),
        env(
            "assignment.made",
            {
                "kind": "agency",
                "enterprise_credit_code": "X",
                "assignee_name": "某事务所",
                "assignee_id": "a1",
            },
            1,
        ),
    ]
    contacts = dossier(events)["contact_list"]
    assert contacts == {
        "departments": [
            {
                "id": "d1",
                "name": "城东区科学技术局",
                "jurisdiction": "630102",
                "leader": "s1",
                "phone": "0971-6123456",
                "service_hours": "工作日 9:00–18:00",
            }
        ],
        "staff": [
            {"id": "s1", "name": "陈静", "title": None, "department": "d1", "phone": "13800971000"}
        ],
        "enterprise_owners": [
            {"enterprise": ENT["credit_code"], "owner": "陈静", "owner_id": "s1"}
        ],  # an agency's assignment is not an owner
    }


def test_the_demand_list_and_the_records_are_those_of_the_period():
    accepted = {"enterprise": ENT, "category": "ip", "source": "online"}
    record = {
        "id": "r1",
        "unit_id": "630102",
        "period": "2026-11",
        "kind": "a1",
        "value": 3,
        "evidence": {"url": "x"},
        "at": "2026-11-03T00:00:00+00:00",
        "note": "not kept",
    }
    events = [
        env("demand.accepted", {**accepted, "demand_code": "D0", "accepted_at": "a0"}, -1),
        env("demand.accepted", {**accepted, "demand_code": "D1", "accepted_at": "a1"}, 2),
        env("scoring.record_entered", {**record, "id": "r0"}, -1),
        env("scoring.record_entered", record, 2),
    ]
    found = dossier(events)
    assert found["demand_list"] == [
        {
            "code": "D1",
            "enterprise": ENT["name"],
            "category": "ip",
            "source": "online",
            "accepted_at": "a1",
            "jurisdiction": "630102",
        }
    ]
    assert found["assessment_records"] == [
        {k: record[k] for k in ("id", "unit_id", "period", "kind", "value", "evidence", "at")}
    ]


def test_the_ledger_holds_the_periods_visits_each_as_last_revised_in_date_order():
    events = [
        visit("v2", "2026-11-20"),
        visit("v1", "2026-11-05"),
        visit("v0", "2026-10-31"),  # before the period
        visit("v3", "2026-11-20"),
        visit("v1", "2026-11-06", version=2, kind="phone", staff_name=None, days=2),
        visit("v2", "2026-12-01", version=2, days=3),  # revised out of the period: kept as was
    ]
    ledger = dossier(events)["service_ledger"]
    assert [(v["visit_id"], v["visited_on"], v["version"]) for v in ledger] == [
        ("v1", "2026-11-06", 2),
        ("v2", "2026-11-20", 1),
        ("v3", "2026-11-20", 1),
    ]
    assert ledger[0] == {
        "visit_id": "v1",
        "visited_on": "2026-11-06",
        "staff": None,
        "department": "城东区科学技术局",
        "enterprises": [ENT["name"]],
        "kind": "phone",
        "version": 2,
    }


def test_an_empty_period_has_four_empty_parts():
    assert dossier([env("demand.screened", {"demand_code": "D1"})]) == {
        "contact_list": {"departments": [], "staff": [], "enterprise_owners": []},
        "demand_list": [],
        "service_ledger": [],
        "assessment_records": [],
    }
