"""The demand analysis and the progress report from envelopes alone: no database."""

from datetime import UTC, datetime, timedelta

from services.archive.analysis import (
    Demand,
    analyse,
    demands_of,
    progress_of,
    progress_title,
    terms,
    themes,
)

SINCE = datetime(2026, 10, 31, 16, 0, tzinfo=UTC)  # 1 November 2026, 00:00 in China
NOW = datetime(2026, 11, 20, tzinfo=UTC)
ENT = {"credit_code": "91630102MA7522T5X6", "name": "青海高原新材料科技有限公司"}


def env(event_type, payload, days=0, jurisdiction="630102"):
    """An envelope ``days`` after the period's start."""
    return {
        "event_type": event_type,
        "occurred_at": (SINCE + timedelta(days=days)).isoformat(),
        "jurisdiction": jurisdiction,
        "payload": payload,
    }


def accepted(code, days=0, jurisdiction="630102", **more):
    payload = {
        "demand_code": code,
        "enterprise": ENT,
        "category": "technology",
        "source": "online",
        "title": "正极材料烧结工艺改进",
        **more,
    }
    return env("demand.accepted", payload, days, jurisdiction)


def status(code, to, days=1, **more):
    return env("demand.status_changed", {"demand_code": code, "to_status": to, **more}, days)


def test_a_demand_takes_the_state_its_later_events_leave_it_in():
    d = Demand.accepted(accepted("D1", service_item="ip_filing", expected_at="2026-11-10"))
    assert (d.code, d.status, d.service_item, d.expected_at) == (
        "D1",
        "accepted",
        "ip_filing",
        "2026-11-10",
    )
    assert d.enterprise == ENT["name"] and d.jurisdiction == "630102"
    d.apply("demand.screened", {"expected_at": "2026-11-12T00:00:00+00:00"})
    d.apply("demand.status_changed", {"to_status": "in_progress", "on_time": False})
    assert d.status == "in_progress" and d.on_time is None  # on time is said at closing
    d.apply("demand.status_changed", {"to_status": "closed", "on_time": True})
    d.apply("demand.revisited", {"rating": 4})
    d.apply("assignment.made", {"kind": "owner"})  # nothing a demand's state records
    assert (d.status, d.expected_at, d.on_time, d.rating) == (
        "closed",
        "2026-11-12T00:00:00+00:00",
        True,
        4,
    )
    untitled = {k: v for k, v in accepted("D2")["payload"].items() if k != "title"}
    assert Demand.accepted(env("demand.accepted", untitled)).title == ""


def test_only_an_open_demand_past_its_expected_time_is_overdue():
    late = Demand.accepted(accepted("D1", expected_at="2026-11-10T00:00:00+00:00"))
    assert late.is_overdue(NOW)
    assert not late.is_overdue(datetime(2026, 11, 9, tzinfo=UTC))
    for settled in ("closed", "rejected"):
        late.status = settled
        assert not late.is_overdue(NOW)
    assert not Demand.accepted(accepted("D2")).is_overdue(NOW)  # no expected time
    late.status = "in_progress"
    assert late.overdue_line() == {
        "code": "D1",
        "category": "technology",
        "jurisdiction": "630102",
        "status": "in_progress",
        "expected_at": "2026-11-10T00:00:00+00:00",
        "enterprise": ENT["name"],
    }


def test_demands_are_those_accepted_in_the_period_with_their_later_events():
    events = [
        accepted("OLD", days=-3),  # accepted before the period: not counted
        status("OLD", "closed", days=2),
        accepted("D1"),
        accepted("D2", days=1),
        status("D1", "in_progress"),
        status("NONE", "closed"),  # a demand the subtree never accepted
        status("D2", "rejected", days=2),
    ]
    found = demands_of(events, SINCE)
    assert [(d.code, d.status) for d in found] == [("D1", "in_progress"), ("D2", "rejected")]


def test_a_demand_accepted_again_starts_over_in_its_place():
    events = [accepted("D1"), accepted("D2"), status("D1", "closed"), accepted("D1", days=2)]
    assert [(d.code, d.status) for d in demands_of(events, SINCE)] == [
        ("D1", "accepted"),
        ("D2", "accepted"),
    ]


def test_themes_are_the_terms_found_at_least_twice():
    # Chinese has no spaces: every 2–4 character run, stop words (需求) left out
    assert list(terms("融资需求")) == ["融资", "资需", "融资需", "资需求", "融资需求"]
    assert list(terms("ab 路")) == []  # Latin words count from three letters, Chinese from two
    two = ["Ba", "at", "tt", "te", "er", "ry"]
    three, four = ["Bat", "att", "tte", "ter", "ery"], ["Batt", "atte", "tter", "tery"]
    assert list(terms("Battery")) == [*two, *three, *four]
    found = themes(["锂电池烧结", "正极烧结", "烧结炉", "光伏组件"])
    assert found[0] == {"term": "烧结", "demands": 3}
    assert all(t["demands"] >= 2 for t in found)
    assert len(themes([f"烧结{chr(0x4E00 + i)}{chr(0x4E00 + i)}" for i in range(30)] * 2)) == 10


def test_the_analysis_counts_rates_and_lists():
    events = [
        accepted("D1", category="technology", source="online", service_item="ip_filing"),
        accepted("D2", category="technology", source="field_visit", jurisdiction="630103"),
        accepted("D3", category="finance", source="online", expected_at="2026-11-05T00:00Z"),
        accepted("D4", category="ip", source="hotline", service_item="ip_filing"),
        accepted("D5", category="ip", source="online", title="融资"),
        status("D1", "closed", on_time=True),
        status("D2", "closed", on_time=False),
        status("D4", "closed"),  # closed without saying whether on time
        status("D5", "rejected"),
        env("demand.revisited", {"demand_code": "D1", "rating": 5}, 3),
        env("demand.revisited", {"demand_code": "D2", "rating": 4}, 3),
    ]
    report = analyse(events, SINCE, NOW)
    assert list(report) == [
        "demands",
        "by_category",
        "by_source",
        "by_jurisdiction",
        "by_status",
        "by_service_item",
        "closure_rate",
        "on_time_rate",
        "satisfaction",
        "overdue",
        "recurring_themes",
    ]
    assert report["demands"] == 5
    assert report["by_category"] == {"technology": 2, "finance": 1, "ip": 2}
    assert report["by_source"] == {"online": 3, "field_visit": 1, "hotline": 1}
    assert report["by_jurisdiction"] == {"630102": 4, "630103": 1}
    assert report["by_status"] == {"closed": 3, "accepted": 1, "rejected": 1}
    assert report["by_service_item"] == {"ip_filing": 2}
    assert report["closure_rate"] == 0.75  # 3 closed of the 4 not rejected
    assert report["on_time_rate"] == 0.5  # of the 2 closed that say
    assert report["satisfaction"] == 4.5
    assert [o["code"] for o in report["overdue"]] == ["D3"]
    assert {"term": "烧结", "demands": 4} in report["recurring_themes"]


def test_an_empty_period_has_no_rates():
    report = analyse([], SINCE, NOW)
    assert report["demands"] == 0 and report["by_category"] == {}
    assert report["closure_rate"] is report["on_time_rate"] is report["satisfaction"] is None
    assert report["overdue"] == [] and report["recurring_themes"] == []


def test_progress_counts_the_periods_events_and_carries_the_analysis():
    events = [
        accepted("OLD", days=-2),
        status("OLD", "in_progress", days=-1),  # before the period: not counted
        accepted("D1", expected_at="2026-11-02T00:00:00+00:00"),
        env("assignment.made", {"demand_code": "D1", "kind": "owner"}, 1),
        status("D1", "in_progress"),
        status("OLD", "closed", days=2),
        env("visit.logged", {"visit_id": "v1"}, 2),
        env("visit.logged", {"visit_id": "v2"}, 3),
    ]
    report = progress_of(events, SINCE, NOW)
    assert report == {
        "demands_accepted": 1,
        "transitions": {"in_progress": 1, "closed": 1},
        "assignments": 1,
        "visits": 2,
        "overdue": 1,
        "closure_rate": 0.0,
        "events": {
            "demand.accepted": 1,
            "assignment.made": 1,
            "demand.status_changed": 2,
            "visit.logged": 2,
        },
    }
    assert list(report) == [
        "demands_accepted",
        "transitions",
        "assignments",
        "visits",
        "overdue",
        "closure_rate",
        "events",
    ]


def test_the_progress_report_is_named_for_its_period():
    assert [progress_title(k) for k in ("week", "month", "quarter")] == [
        "周推进",
        "月总结",
        "季度小结",
    ]
