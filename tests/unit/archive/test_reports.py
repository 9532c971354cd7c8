"""The reports as use cases: read the subtree's archived events for the period, scoped to
the actor, and answer the report (fake unit of work)."""

from datetime import UTC, date, datetime, timedelta

import pytest

from services.archive.reports import demand_analysis, dossier, progress, span_of
from shared.errors import status_of
from shared.usecases import Forbidden, Invalid
from tests.factories import accepted_payload
from tests.fakes import actor


@pytest.fixture
def november(archive, event, t0):
    """Demands in 630102 and 630103 during November 2026 (one closed late, one visited),
    and one accepted in October."""

    def accepted(code, at, where="630102", **more):
        payload = accepted_payload(demand_code=code, accepted_at=at.isoformat(), **more)
        return event("demand.accepted", payload, at=at, jurisdiction=where)

    october = t0 - timedelta(days=10)
    archive(
        [
            accepted("630102-2026-000001", october),
            accepted("630102-2026-000002", t0, title="正极材料烧结", category="ip"),
            accepted("630102-2026-000003", t0 + timedelta(days=1), title="烧结炉升级"),
            accepted("630103-2026-000004", t0, where="630103"),
            event(
                "demand.status_changed",
                {"demand_code": "630102-2026-000002", "to_status": "closed", "on_time": False},
                at=t0 + timedelta(days=2),
            ),
            event(
                "visit.logged",
                {
                    "visit_id": "v1",
                    "visited_on": "2026-11-03",
                    "enterprises": [],
                    "kind": "field",
                    "version": 1,
                },
                at=t0 + timedelta(days=1),
                producer="visits",
            ),
        ]
    )


MONTH = {"jurisdiction": "630102", "period": "2026-11", "format": "json"}
NOW = datetime(2026, 12, 1, tzinfo=UTC)


def test_a_period_is_a_week_a_month_or_a_quarter_of_china_days():
    span = span_of("2026-W45")
    assert (span.period.start, span.period.end) == (date(2026, 11, 2), date(2026, 11, 8))
    assert span.start == datetime(2026, 11, 1, 16, 0, tzinfo=UTC)
    assert span.end == datetime(2026, 11, 8, 16, 0, tzinfo=UTC)
    day = span_of("2026-12-01")  # a day: the daily rhythm (日调度)
    assert (day.period.kind, day.start, day.end) == (
        "day",
        datetime(2026, 11, 30, 16, 0, tzinfo=UTC),
        datetime(2026, 12, 1, 16, 0, tzinfo=UTC),
    )
    with pytest.raises(Invalid) as bad:
        span_of("2026")
    assert bad.value.fields == {
        "query": {"period": ["a period is YYYY-MM-DD, YYYY-Www (ISO week), YYYY-MM, YYYY-Qn"]}
    }


def test_the_demand_analysis_covers_the_subtrees_demands_of_the_period(uow, november):
    report = demand_analysis(uow, actor("district", "630102"), MONTH, now=NOW)
    assert {k: report[k] for k in ("title", "jurisdiction", "period", "from", "to")} == {
        "title": "需求分析报告",
        "jurisdiction": "630102",
        "period": "2026-11",
        "from": date(2026, 11, 1),
        "to": date(2026, 11, 30),
    }
    assert report["demands"] == 2  # not October's, not 630103's
    assert report["by_category"] == {"ip": 1, "technology": 1}
    assert report["by_status"] == {"closed": 1, "accepted": 1}
    assert report["closure_rate"] == 0.5 and report["on_time_rate"] == 0.0
    assert report["recurring_themes"][0] == {"term": "烧结", "demands": 2}
    city = demand_analysis(uow, actor("admin", "630100"), {**MONTH, "jurisdiction": "630100"})
    assert city["demands"] == 3 and city["by_jurisdiction"] == {"630102": 2, "630103": 1}


def test_progress_is_named_for_its_period(uow, november):
    month = progress(uow, actor("district", "630102"), MONTH, now=NOW)
    assert month["title"] == "月总结" and month["demands_accepted"] == 2
    assert month["visits"] == 1 and month["transitions"] == {"closed": 1}
    week = progress(uow, actor("district", "630102"), {**MONTH, "period": "2026-W45"})
    assert week["title"] == "周推进" and week["period"] == "2026-W45"
    quarter = progress(uow, actor("district", "630102"), {**MONTH, "period": "2026-Q4"})
    assert quarter["title"] == "季度小结" and quarter["demands_accepted"] == 3


def test_the_dossier_has_its_four_parts(uow, november):
    report = dossier(uow, actor("staff", "630102"), MONTH)
    assert report["title"] == "服务档案"
    assert [d["code"] for d in report["demand_list"]] == [
        "630102-2026-000002",
        "630102-2026-000003",
    ]
    assert [v["visit_id"] for v in report["service_ledger"]] == ["v1"]


@pytest.mark.parametrize("report", [demand_analysis, progress, dossier])
def test_a_report_outside_the_actors_subtree_is_refused(uow, november, report):
    with pytest.raises(Forbidden) as refused:
        report(uow, actor("district", "630102"), {**MONTH, "jurisdiction": "630100"})
    assert status_of(refused.value) == 403
    assert refused.value.message == "630100 is outside your jurisdiction."
    assert refused.value.fields is None
