"""The service ledger and the team's visit report on a fake unit of work; the workbook."""

import io
from datetime import UTC, date, datetime

import pytest
from openpyxl import load_workbook
from sqlalchemy import insert

from services.visits import reports
from services.visits.models import visit_demands
from services.visits.reports import LEDGER_HEADINGS, ledger, team_report, to_xlsx, totals
from services.visits.teams import put_team
from shared.usecases import Invalid, NotFound
from tests.factories import VisitsWorld
from tests.fakes import actor

ADMIN = actor("admin", "630000", key_id="k")
HAIDONG = actor("district", "630200")
E1, E2, E3 = VisitsWorld.E1, VisitsWorld.E2, VisitsWorld.E3


@pytest.fixture
def november(uow, visit):
    """Three visits in November 2026 (one by the team, one raising a demand) and one in
    December."""
    put_team(
        uow,
        ADMIN,
        "sx-1",
        {"name": "一组", "jurisdiction": "630000", "linked_city": "630100",
         "key_enterprises": [E1, E2]},
    )  # fmt: skip
    done = [
        visit(date(2026, 11, 20), [E1, E2], staff_id="s-1", kind="policy_briefing"),
        visit(date(2026, 11, 3), [E1], staff_id="s-3", participants=["张三", "李四"]),
        visit(date(2026, 11, 10), [E2], team_id="sx-1", findings="缺检测设备"),
        visit(date(2026, 12, 1), [E1], staff_id="s-1"),
    ]
    with uow:
        uow.session.execute(
            insert(visit_demands).values(
                visit_id=done[1]["visit_id"],
                demand_code="630102-2026-000009",
                link="raised",
                at=datetime.now(UTC),
            )
        )
        uow.commit()
    return done


def test_the_ledger_of_a_department_is_its_visits_oldest_first(uow, november):
    report = ledger(uow, ADMIN, {"unit": "cd-kjj", "period": "2026-11"})
    assert report["unit"] == {
        "id": "cd-kjj",
        "type": "department",
        "name": "城东区科学技术局",
        "jurisdiction": "630102",
    }
    assert (report["period"], report["from"], report["to"]) == (
        "2026-11",
        date(2026, 11, 1),
        date(2026, 11, 30),
    )
    assert [v["visit_id"] for v in report["visits"]] == [
        november[1]["visit_id"],
        november[0]["visit_id"],
    ]
    assert report["totals"] == {
        "visits": 2,
        "enterprises": 2,
        "by_kind": {"demand_survey": 1, "policy_briefing": 1},
        "demands_raised": 1,
    }
    staff = ledger(uow, ADMIN, {"unit": "s-1", "period": "2026-Q4"})
    assert [v["visited_on"] for v in staff["visits"]] == ["2026-11-20", "2026-12-01"]


def test_the_team_report_shows_its_key_enterprise_coverage(uow, november):
    report = team_report(uow, ADMIN, {"team": "sx-1", "period": "2026-11"})
    assert report["team"] == {"id": "sx-1", "name": "一组", "linked_city": "630100"}
    assert [v["visit_id"] for v in report["visits"]] == [november[2]["visit_id"]]
    assert report["key_enterprises"] == {
        "linked": 2,
        "visited": [E2],
        "not_visited": [E1],
        "coverage": 0.5,
    }
    assert report["totals"]["enterprises"] == 1


def test_reports_stay_in_the_subtree_and_the_period_is_checked(uow, november, monkeypatch):
    with pytest.raises(NotFound, match="No staff member or department cd-kjj in your subtree"):
        ledger(uow, HAIDONG, {"unit": "cd-kjj", "period": "2026-11"})
    with pytest.raises(NotFound, match="No service team sx-1 in your subtree"):
        team_report(uow, HAIDONG, {"team": "sx-1", "period": "2026-11"})
    with pytest.raises(Invalid) as caught:
        ledger(uow, ADMIN, {"unit": "cd-kjj", "period": "2026"})
    assert list(caught.value.fields["query"]) == ["period"]
    monkeypatch.setattr(reports, "MAX_REPORT_ROWS", 1)
    with pytest.raises(Invalid, match="More than 1 visits: narrow the period or the unit"):
        ledger(uow, ADMIN, {"unit": "cd-kjj", "period": "2026-11"})


def test_totals_count_raised_demands_by_their_links():
    rows = [
        {"kind": "a", "enterprises": [{"credit_code": "X"}], "demands": [{"link": "raised"}]},
        {"kind": "a", "enterprises": [{"credit_code": "X"}], "demands": [{"link": "follow_up"}]},
    ]
    assert totals(rows) == {"visits": 2, "enterprises": 1, "by_kind": {"a": 2}, "demands_raised": 1}


def test_the_workbook_has_chinese_headings_a_row_per_visit_and_the_totals(uow, november):
    report = team_report(uow, ADMIN, {"team": "sx-1", "period": "2026-11"})
    ws = load_workbook(io.BytesIO(to_xlsx("走访报告", report))).active
    rows = [list(r) for r in ws.iter_rows(values_only=True)]
    assert ws.title == "走访报告"
    assert rows[0][:2] == ["走访报告", "2026-11"]
    assert rows[1] == LEDGER_HEADINGS
    assert rows[2][:6] == ["2026-11-10", None, None, "sx-1", "西宁城东光伏有限公司", "需求摸排"]
    assert rows[2][8] == "缺检测设备"
    assert rows[-2][:2] == ["走访次数", 1]
    assert rows[-1][:6] == ["联系重点企业", 2, "已走访", 1, "覆盖率", 0.5]
