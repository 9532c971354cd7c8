"""The office staff's workbench over the real services (embedded): the board, a demand's
page with its dispatch decision and archive trace, the loop's actions (and a refused one),
visits with the demands raised on them, plans, the ledger's XLSX download, the scorecard."""

from __future__ import annotations

import re
import time
from datetime import UTC, datetime, timedelta
from typing import Any

from werkzeug.test import Client

from onestop import demo
from services.console.work import arrange
from shared.timezone import CHINA
from tests.console.conftest import csrf_of

ENT = "91630102MA7522T5X6"


def file_demand(person: Any, title: str = "耐候性检测需求") -> str:
    ent = person("qiye.gaoyuan")
    r = ent.submit(
        "/hall/demands/new",
        {"enterprise": ENT, "category": "technology", "title": title, "description": "需要检测。"},
    )
    assert r.status_code == 302, r.get_data(as_text=True)[:2000]
    return str(r.headers["Location"].rsplit("/", 1)[1])


def api(platform: Any, login: str) -> Any:
    """A direct API client with the person's token (to compare the pages with the services)."""
    c = Client(platform.wsgi)
    answer = c.post(
        "/directory/api/v1/sessions", json={"username": login, "password": demo.DEMO_PASSWORD}
    ).get_json()
    headers = {"Authorization": f"Bearer {answer['access_token']}"}
    return lambda path: c.get(path, headers=headers).get_json()


def until(check: Any, seconds: float = 10) -> Any:
    deadline = time.monotonic() + seconds
    while True:
        value = check()
        if value or time.monotonic() > deadline:
            return value
        time.sleep(0.2)


def post(b: Any, path: str, data: dict[str, Any], page: str) -> Any:
    html = b.get(page).get_data(as_text=True)
    return b.c.post(path, data={**data, "csrf_token": csrf_of(html)})


def test_the_board_lists_my_demands_with_countdowns_and_a_status_filter(person):
    code = file_demand(person)
    staff = person("chen.jing")
    home = staff.get("/")
    assert home.status_code == 302 and home.headers["Location"].endswith("/work/")
    # the demand is mine once dispatch names my department its owner

    def board_with_it() -> str:
        page = staff.get("/work/").get_data(as_text=True)
        return page if code in page else ""

    html = until(board_with_it)
    assert code in html and "耐候性检测需求" in html
    assert re.search(r'data-deadline="20\d\d-', html)
    assert f'href="/work/demands/{code}"' in html
    assert code not in staff.get("/work/?status=closed").get_data(as_text=True)
    assert code in staff.get("/work/?status=accepted").get_data(as_text=True)
    # a person from elsewhere does not see it; the enterprise may not open the workbench
    assert person("qiye.gaoyuan").get("/work/").status_code == 403


def test_overdue_and_due_today_come_first():
    now = datetime(2026, 5, 6, 2, 0, tzinfo=UTC)  # 10:00 in China

    def d(code: str, status: str, due: datetime) -> dict[str, Any]:
        return {"code": code, "status": status, "expected_datetime": due.isoformat()}

    groups = arrange(
        [
            d("later", "in_progress", now + timedelta(days=3)),
            d("closed", "closed", now - timedelta(days=3)),
            d("today", "accepted", now + timedelta(hours=5)),
            d("late-1", "feedback", now - timedelta(hours=1)),
            d("late-2", "accepted", now - timedelta(days=2)),
            d("tomorrow", "accepted", now + timedelta(hours=15)),
        ],
        now,
    )
    assert [x["code"] for x in groups["overdue"]] == ["late-2", "late-1"]
    assert [x["code"] for x in groups["today"]] == ["today"]
    assert [x["code"] for x in groups["open"]] == ["tomorrow", "later"]
    assert [x["code"] for x in groups["ended"]] == ["closed"]


def test_a_demands_page_shows_dispatch_and_the_archive_trace_with_its_hashes(person, platform):
    code = file_demand(person)
    staff = person("chen.jing")
    read = api(platform, "chen.jing")
    trace = until(
        lambda: (
            len(read(f"/archive/api/v1/trace/{code}")["events"]) >= 2
            and read(f"/archive/api/v1/trace/{code}")
        )
    )
    page = staff.get(f"/work/demands/{code}")
    html = page.get_data(as_text=True)
    assert page.status_code == 200
    assert "耐候性检测需求" in html and "城东区科学技术局" in html
    assert "default responsible department of 630102" in html  # the decision's explanation
    for event in trace["events"]:
        assert event["archive"]["hash"] in html
    assert "demand.accepted" in html and "assignment.made" in html
    # only the moves the status allows are offered
    assert 'value="in_progress"' in html and 'value="follow_up"' not in html
    assert staff.get("/work/demands/630102-2026-999999").status_code == 404


def test_screen_move_close_and_revisit_with_the_services_refusals(person):
    code = file_demand(person)
    staff = person("chen.jing")
    page = f"/work/demands/{code}"
    r = post(
        staff,
        f"{page}/screening",
        {
            "complexity": "complex",
            "urgency": "high",
            "feasibility": "medium",
            "screen_note": "需专家",
        },
        page,
    )
    assert r.status_code == 302, r.get_data(as_text=True)[:3000]
    html = staff.get(page).get_data(as_text=True)
    assert "复杂" in html and "较急" in html and "已保存筛选结果" in html
    # rejecting needs a reason: the intake service refuses, the page says why next to the form
    r = post(staff, f"{page}/transitions", {"to": "rejected", "move_note": ""}, page)
    assert r.status_code == 422
    assert "reason" in r.get_data(as_text=True)
    r = post(staff, f"{page}/transitions", {"to": "in_progress", "move_note": "开始办理"}, page)
    assert r.status_code == 302
    # a move the loop does not allow from here: the service's 409 names the allowed ones
    r = post(staff, f"{page}/transitions", {"to": "closed", "move_note": ""}, page)
    assert r.status_code == 422 and "allowed: feedback" in r.get_data(as_text=True)
    assert (
        post(
            staff, f"{page}/transitions", {"to": "feedback", "move_note": "已反馈"}, page
        ).status_code
        == 302
    )
    # unsolvable needs an explanation
    r = post(staff, f"{page}/close", {"resolution": "unsolvable", "close_note": ""}, page)
    assert r.status_code == 422 and "explanation" in r.get_data(as_text=True)
    r = post(staff, f"{page}/close", {"resolution": "solved", "close_note": "已解决"}, page)
    assert r.status_code == 302
    html = staff.get(page).get_data(as_text=True)
    assert "已办结" in html and "已解决" in html and "开始办理" in html
    r = post(staff, f"{page}/revisit", {"rating": "4", "comment": "电话回访，满意"}, page)
    assert r.status_code == 302
    assert "电话回访，满意" in staff.get(page).get_data(as_text=True)
    r = post(staff, f"{page}/revisit", {"rating": "5", "comment": ""}, page)
    assert r.status_code == 422 and "already been revisited" in r.get_data(as_text=True)


def test_a_visit_with_raised_demands_the_ledger_and_its_xlsx(person):
    staff = person("chen.jing")
    today = datetime.now(CHINA).strftime("%Y-%m-%d")
    # a refused visit: the visits service's message sits next to the field it names
    r = staff.submit(
        "/work/visits/new",
        {
            "enterprises": ENT,
            "kind": "demand_survey",
            "visited_on": today,
            "follow_up_of": "not-a-code",
        },
    )
    assert r.status_code == 422
    assert 'id="follow_up_of-errors"' in r.get_data(as_text=True)
    # one more row for a raised demand, then the visit
    more = staff.submit("/work/visits/new", {"more": "1", "kind": "demand_survey"})
    assert 'name="demands-1-title"' in more.get_data(as_text=True)
    r = staff.submit(
        "/work/visits/new",
        {
            "enterprises": ENT,
            "kind": "demand_survey",
            "visited_on": today,
            "duration_minutes": "90",
            "participants": "陈静, 赵敏",
            "findings": "企业需要检测设备共享",
            "demands-0-credit_code": "",
            "demands-0-category": "technology",
            "demands-0-title": "检测设备共享",
            "demands-0-description": "希望共享高校检测设备。",
        },
    )
    assert r.status_code == 302, r.get_data(as_text=True)[:3000]
    assert "走访已登记，提出需求 1 条" in staff.get(r.headers["Location"]).get_data(as_text=True)
    listing = staff.get("/work/visits").get_data(as_text=True)
    assert "企业需要检测设备共享" in listing and "需求摸排" in listing
    period = datetime.now(CHINA).strftime("%Y-%m")
    ledger = staff.get(f"/work/ledger?period={period}").get_data(as_text=True)
    assert "企业需要检测设备共享" in ledger and "陈静" in ledger
    xlsx = staff.get(f"/work/ledger.xlsx?period={period}")
    assert xlsx.status_code == 200
    assert "spreadsheetml" in xlsx.headers["Content-Type"]
    assert xlsx.data[:2] == b"PK"
    assert "attachment" in xlsx.headers.get("Content-Disposition", "")
    # a bad period is the service's message by the field
    bad = staff.get("/work/ledger?period=2026-13")
    assert bad.status_code == 422 and 'id="period-errors"' in bad.get_data(as_text=True)


def test_plans_are_made_and_cancelled(person):
    staff = person("chen.jing")
    day = (datetime.now(CHINA) + timedelta(days=3)).strftime("%Y-%m-%d")
    r = staff.submit(
        "/work/plans",
        {
            "plan_enterprises": ENT,
            "plan_kind": "policy_briefing",
            "planned_on": day,
            "plan_note": "宣讲研发费用加计扣除",
        },
    )
    assert r.status_code == 302, r.get_data(as_text=True)[:3000]
    html = staff.get("/work/plans").get_data(as_text=True)
    assert "宣讲研发费用加计扣除" in html and "计划中" in html
    plan_id = re.search(r"/work/plans/([0-9a-f-]{36})/cancel", html).group(1)
    # cancelling needs a reason: the service refuses an empty one
    r = post(staff, f"/work/plans/{plan_id}/cancel", {"reason": ""}, "/work/plans")
    assert r.status_code == 422 and "alert-danger" in r.get_data(as_text=True)
    r = post(staff, f"/work/plans/{plan_id}/cancel", {"reason": "企业停产检修"}, "/work/plans")
    assert r.status_code == 302
    html = staff.get("/work/plans").get_data(as_text=True)
    assert "已取消" in html and "企业停产检修" in html


def log_visit(staff: Any, findings: str) -> None:
    r = staff.submit(
        "/work/visits/new",
        {
            "enterprises": ENT,
            "kind": "policy_briefing",
            "visited_on": datetime.now(CHINA).strftime("%Y-%m-%d"),
            "findings": findings,
        },
    )
    assert r.status_code == 302, r.get_data(as_text=True)[:3000]


def test_the_scorecard_point_by_point_with_its_records(person, platform):
    staff = person("chen.jing")
    for n in range(3):
        log_visit(staff, f"第{n + 1}次走访")
    period = datetime.now(CHINA).strftime("%Y-%m")
    read = api(platform, "chen.jing")

    def visits_counted() -> Any:
        card = read(f"/scoring/api/v1/scorecards?unit=staff-005&period={period}")
        items = [i for part in card["parts"] for i in part["items"]]
        item = next(i for i in items if i["item"] == "visits")
        return item if item["records_total"] >= 3 else None

    item = until(visits_counted)
    assert item, "scoring never counted the visits"
    card = staff.get(f"/work/scorecard?period={period}")
    html = card.get_data(as_text=True)
    assert card.status_code == 200
    assert "服务次数" in html and "服务效率" in html and "总分" in html
    assert "3 条" in html  # the visits item's records
    # the records behind the item, a page at a time: htmx gets a fragment with a "more"
    records = read(f"/scoring/api/v1/scorecards/records?unit=staff-005&period={period}&item=visits")
    assert records["total"] == 3
    fragment = staff.get(
        f"/work/scorecard/records?item=visits&period={period}&offset=1",
        headers={"HX-Request": "true"},
    )
    text = fragment.get_data(as_text=True)
    assert fragment.status_code == 200 and "<html" not in text
    assert text.count("<li") == 2  # records 2 and 3, and no "more" after the last
    shown = [str(v) for r in records["items"][1:] for v in r.values() if v not in (None, "")]
    assert all(v in text for v in shown[:4])
    full = staff.get(f"/work/scorecard/records?item=visits&period={period}")
    assert full.status_code == 200 and "考核记录" in full.get_data(as_text=True)
    assert staff.get("/work/scorecard/records?item=nonsense").status_code == 400


def test_a_plan_is_done_with_its_visit(person):
    staff = person("chen.jing")
    log_visit(staff, "按计划走访")
    day = datetime.now(CHINA).strftime("%Y-%m-%d")
    r = staff.submit(
        "/work/plans", {"plan_enterprises": ENT, "plan_kind": "policy_briefing", "planned_on": day}
    )
    assert r.status_code == 302, r.get_data(as_text=True)[:3000]
    html = staff.get("/work/plans").get_data(as_text=True)
    plan_id = re.search(r"/work/plans/([0-9a-f-]{36})/done", html).group(1)
    visit_id = re.search(r'<option value="([0-9a-f-]{36})">', html).group(1)
    r = post(staff, f"/work/plans/{plan_id}/done", {"visit_id": visit_id}, "/work/plans")
    assert r.status_code == 302, r.get_data(as_text=True)[:3000]
    assert "已完成" in staff.get("/work/plans").get_data(as_text=True)


def test_a_commissioner_sees_the_unit_but_not_what_the_services_keep_from_them(person):
    code = file_demand(person)
    li = person("tepai.li")
    assert code in li.get("/work/").get_data(as_text=True)
    html = li.get(f"/work/demands/{code}").get_data(as_text=True)
    assert "无权查看派单信息" in html
    assert "没有个人考核" in li.get("/work/scorecard").get_data(as_text=True)
