"""The leader's cockpit over the real services (embedded): the KPIs of a demand filed and
closed through the APIs, the period selector, the six months' trend, the rankings and the
daily board with their XLSX downloads, the breaches escalated to the leaders, visit
compliance by rule — and the pages closed to everyone but leaders."""

from __future__ import annotations

import html as html_lib
import io
import json
import re
from datetime import UTC, datetime, timedelta

from openpyxl import load_workbook
from werkzeug.test import Client

from services.dispatch.sweep import sweep_deadlines
from shared.timezone import china_today
from tests.e2e.support import auth, drive, ready
from tests.support import wait_for

XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
CHART = re.compile(r'<script type="application/json" data-chart="([\w-]+)">(.*?)</script>', re.S)


def kpi_row(html: str, key: str) -> str:
    m = re.search(rf'<tr data-kpi="{key}">(.*?)</tr>', html, re.S)
    assert m, f"no {key} row"
    return " ".join(m.group(1).split())


def charts(html: str) -> dict[str, dict]:
    return {name: json.loads(block) for name, block in CHART.findall(html)}


def scored(platform, jurisdiction: str, closed: int) -> None:
    """Until scoring has counted ``closed`` closed demands in ``jurisdiction`` this month."""
    c, h = Client(platform.wsgi), auth(platform, "district")
    month = china_today().strftime("%Y-%m")
    wait_for(
        lambda: (
            c.get(
                f"/scoring/api/v1/kpis?jurisdiction={jurisdiction}&period={month}", headers=h
            ).get_json()["demands"]["closed"]
            >= closed
        ),
        timeout=20,
    )


def test_the_kpis_change_when_a_demand_is_closed_and_rated(platform, person):
    leader = person("leader.xn")
    home = leader.get("/")
    assert home.status_code == 302 and home.headers["Location"].endswith("/cockpit/")
    month = china_today().strftime("%Y-%m")
    before = leader.get("/cockpit/?unit=630102").get_data(as_text=True)
    assert month in before
    assert "受理 0 件，办结 0 件" in kpi_row(before, "closure") and "—" in kpi_row(
        before, "closure"
    )

    c, h = Client(platform.wsgi), auth(platform, "district")
    ready(c, h)
    drive(c, h)  # filed, screened, closed solved, rated 5
    scored(platform, "630102", 1)

    page = leader.get("/cockpit/?unit=630102")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert "受理 1 件，办结 1 件" in kpi_row(html, "closure")
    assert "100.0%" in kpi_row(html, "closure") and "100.0%" in kpi_row(html, "on_time")
    assert "100.0%" in kpi_row(html, "solving")
    assert "5.0" in kpi_row(html, "satisfaction") and "1 次评价" in kpi_row(html, "satisfaction")
    # coverage and the SX targets against the targets scoring gives
    assert "15.0%" in kpi_row(html, "tech_sme_coverage")  # its target
    assert "2.0×" in kpi_row(html, "hitech_vs_base")
    drawn = charts(html)
    assert set(drawn) == {"chart-rates", "chart-satisfaction", "chart-coverage", "chart-sx"}
    assert drawn["chart-rates"]["series"][0]["data"] == [100.0, 100.0, 100.0]
    assert drawn["chart-satisfaction"]["series"][0]["data"] == [5.0]
    assert drawn["chart-coverage"]["series"][1]["data"] == [15.0, 75.0, 33.3]
    # the city's own figures include its district's
    city = leader.get("/cockpit/").get_data(as_text=True)
    assert "受理 1 件，办结 1 件" in kpi_row(city, "closure")
    # a sibling city's units are not the leader's (scoring refuses; the page says so)
    other = leader.get("/cockpit/?unit=630200")
    assert other.status_code == 422 and 'role="alert"' in other.get_data(as_text=True)


def test_the_period_selector_and_the_trend(platform, person):
    leader = person("leader.xn")
    today = china_today()
    iso = today.isocalendar()
    for grain, period in (
        ("year", str(today.year)),
        ("quarter", f"{today.year}-Q{(today.month - 1) // 3 + 1}"),
        ("week", f"{iso[0]}-W{iso[1]:02d}"),
        ("day", today.isoformat()),
        ("month", today.strftime("%Y-%m")),
    ):
        html = leader.get(f"/cockpit/?grain={grain}").get_data(as_text=True)
        assert f'<small class="text-muted">{period}</small>' in html, grain
        assert f'<option selected value="{grain}">' in html
    html = leader.get("/cockpit/?grain=quarter&on=2026-02-10").get_data(as_text=True)
    assert '<small class="text-muted">2026-Q1</small>' in html
    bad = leader.get("/cockpit/?on=not-a-date")  # a wrong day: today's month, with a message
    assert bad.status_code == 200 and 'id="on-errors"' in bad.get_data(as_text=True)

    c, h = Client(platform.wsgi), auth(platform, "district")
    ready(c, h)
    drive(c, h)
    scored(platform, "630102", 1)
    trend = leader.get("/cockpit/trend?unit=630102", headers={"HX-Request": "true"})
    body = trend.get_data(as_text=True)
    assert trend.status_code == 200 and "<html" not in body  # a fragment for htmx
    attr = re.search(r'id="chart-trend"[^>]*data-chart-option="([^"]*)"', body)
    assert attr, body[:2000]
    line = json.loads(html_lib.unescape(attr.group(1)))
    months = line["xAxis"]["data"]
    assert len(months) == 6 and months[-1] == today.strftime("%Y-%m")
    assert line["series"][0]["data"][-1] == 100.0 and line["series"][0]["data"][0] is None
    full = leader.get("/cockpit/trend?unit=630102").get_data(as_text=True)
    assert "<html" in full and "chart-trend" in full


def test_rankings_and_their_download(platform, person):
    c, h = Client(platform.wsgi), auth(platform, "district")
    ready(c, h)
    drive(c, h)
    scored(platform, "630102", 1)
    leader = person("leader.xn")
    city = leader.get("/cockpit/rankings").get_data(as_text=True)
    assert "西宁市科学技术局 高新技术科" in city and "城东区科学技术局" not in city
    page = leader.get("/cockpit/rankings?unit=630102")
    html = page.get_data(as_text=True)
    assert page.status_code == 200 and "城东区科学技术局" in html
    ranking = charts(html)["chart-ranking"]
    names, totals = ranking["yAxis"]["data"], ranking["series"][0]["data"]
    assert names[0] == "城东区科学技术局" and totals[0] > 0  # it closed a demand
    assert totals == sorted(totals, reverse=True)
    staff = leader.get("/cockpit/rankings?unit=630102&unit_type=staff").get_data(as_text=True)
    assert "陈静" in staff and "城东区科学技术局<span" not in staff

    month = china_today().strftime("%Y-%m")
    x = leader.get(f"/cockpit/rankings?format=xlsx&unit=630102&unit_type=staff&on={china_today()}")
    assert x.status_code == 200 and x.headers["Content-Type"].startswith(XLSX)
    assert "attachment" in x.headers["Content-Disposition"]
    cells = [
        str(v) for ws in load_workbook(io.BytesIO(x.data)) for row in ws.values for v in row if v
    ]
    assert "陈静" in cells and any(month in v for v in cells)


def test_the_daily_board_and_its_download(platform, person):
    c, h = Client(platform.wsgi), auth(platform, "district")
    ready(c, h)
    code = drive(c, h)
    leader = person("leader.xn")
    page = leader.get("/cockpit/board")
    html = page.get_data(as_text=True)
    assert page.status_code == 200
    assert re.search(r'data-count="new">1<', html) and code in html
    assert "青海高原新材料科技有限公司" in html
    yesterday = china_today() - timedelta(days=1)
    earlier = leader.get(f"/cockpit/board?on={yesterday}").get_data(as_text=True)
    assert re.search(r'data-count="new">0<', earlier) and code not in earlier
    x = leader.get("/cockpit/board?format=xlsx&unit=630102")
    assert x.status_code == 200 and x.headers["Content-Type"].startswith(XLSX)
    book = load_workbook(io.BytesIO(x.data))
    assert len(book.sheetnames) >= 2
    assert code in [str(v) for ws in book for row in ws.values for v in row if v]


def test_breaches_escalated_to_the_leaders(platform, person):
    c, h = Client(platform.wsgi), auth(platform, "district")
    ready(c, h)
    r = c.post(
        "/intake/api/v1/demands",
        json={
            "enterprise": {"credit_code": "91630102MA7522T5X6"},
            "category": "technology",
            "title": "烧结工艺",
            "description": "需要改进烧结工艺",
            "source": "online",
        },
        headers=h,
    )
    code = r.get_json()["code"]
    wait_for(lambda: c.get(f"/intake/api/v1/demands/{code}", headers=h).get_json()["owner"])
    leader = person("leader.xn")
    empty = leader.get("/cockpit/breaches").get_data(as_text=True)
    assert code not in empty and "没有超时记录" in empty
    # the sweep a week later: the time limit passed, the breach escalated to cd-kjj's leader
    counts = sweep_deadlines(
        platform.services["dispatch"].uow(), now=datetime.now(UTC) + timedelta(days=30)
    )
    assert counts["overdue"] >= 1
    html = leader.get("/cockpit/breaches").get_data(as_text=True)
    assert code in html and "超期" in html and "staff-004" in html
    only = leader.get("/cockpit/breaches?level=warning").get_data(as_text=True)
    assert "staff-004" not in only  # warnings are not escalated
    escalated = leader.get("/cockpit/breaches?escalated=1").get_data(as_text=True)
    assert code in escalated and "临期预警</span></td>" not in escalated
    # 赵敏 leads cd-kjj: what was escalated to her, first; every breach of her county on ask
    zhao = person("zhao.min")
    to_me = zhao.get("/cockpit/breaches").get_data(as_text=True)
    assert code in to_me and "临期预警</span></td>" not in to_me  # warnings go to no one
    assert code in zhao.get("/cockpit/breaches?to=all").get_data(as_text=True)
    assert "上报给我的" in to_me and "上报给我的" not in empty  # leader.xn leads no department


def test_visit_compliance_by_rule(platform, person):
    c, h = Client(platform.wsgi), auth(platform, "district")
    ready(c, h)
    drive(c, h)  # two visits by staff-005 of cd-kjj this week
    leader = person("leader.xn")

    def week() -> str | None:
        html = leader.get("/cockpit/compliance").get_data(as_text=True)
        return html if "城东区科学技术局" in html and "已达标" in html else None

    html = wait_for(week, timeout=20)
    assert "包保部室每周走访" in html and "城北区科学技术局" in html and "进行中" in html
    assert '<option selected value="week">' in html
    assert "每个包保责任部室每周至少走访1家企业" in html
    quarter = leader.get("/cockpit/compliance?grain=quarter").get_data(as_text=True)
    assert '<option selected value="quarter">' in quarter
    assert '<option value="year">' not in quarter  # visits has no yearly rule


def test_the_cockpit_is_for_leaders(person, browser):
    assert browser.get("/cockpit/").status_code == 302
    staff = person("chen.jing")
    for path in ("/cockpit/", "/cockpit/rankings", "/cockpit/board", "/cockpit/breaches"):
        assert staff.get(path).status_code == 403, path
    leader = person("leader.xn")
    menu = leader.get("/cockpit/").get_data(as_text=True)
    for path in ("/cockpit/rankings", "/cockpit/breaches", "/cockpit/compliance", "/cockpit/board"):
        assert f'href="{path}"' in menu
