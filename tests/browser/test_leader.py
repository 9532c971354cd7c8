"""The leader's journey in a real browser: the cockpit's charts drawn (an ``svg`` in each
chart element, also the trend htmx loads), the period selector, the rankings, breaches,
visit compliance and the daily board — each page checked by axe-core; on a phone too."""

from __future__ import annotations

from werkzeug.test import Client

from shared.timezone import china_today
from tests.e2e.support import auth, drive, ready

CHARTS = ("chart-rates", "chart-satisfaction", "chart-coverage", "chart-sx")


def drawn(page, element_id: str) -> None:
    page.locator(f"#{element_id} svg").first.wait_for(state="attached", timeout=10_000)


def test_a_leader_reads_the_cockpit(people, platform):
    c, h = Client(platform.wsgi), auth(platform, "district")
    ready(c, h)
    code = drive(c, h)  # a demand closed and rated in 城东区 (630102)

    leader = people("leader")
    leader.sign_in("leader.xn")
    page = leader.page
    page.wait_for_url("**/cockpit/")
    assert page.get_by_role("heading", name="驾驶舱").first.is_visible()
    for chart in CHARTS:
        drawn(page, chart)
    drawn(page, "chart-trend")  # loaded by htmx, drawn after it settled
    assert page.locator("#trend-table tbody tr").count() == 6
    leader.check_a11y()
    leader.shot("kpis")

    # the period selector: a district, by year
    page.get_by_label("辖区").select_option("630102")
    page.get_by_label("统计周期").select_option("year")
    page.get_by_role("button", name="查询").click()
    page.wait_for_url("**grain=year**")
    year = str(china_today().year)
    assert page.get_by_role("heading", name=f"驾驶舱 {year}").is_visible()
    assert "受理 1 件" in page.locator('[data-kpi="closure"]').inner_text()
    for chart in CHARTS:
        drawn(page, chart)
    leader.check_a11y()
    leader.shot("kpis-district-year")

    page.get_by_role("link", name="考核排名").click()
    page.wait_for_url("**/cockpit/rankings")
    drawn(page, "chart-ranking")
    page.get_by_label("排名对象").select_option("staff")
    page.get_by_role("button", name="查询").click()
    page.wait_for_url("**unit_type=staff**")
    assert page.locator("#ranking-table tbody tr").count() >= 1
    leader.check_a11y()  # before the download: a button mid-hover is no contrast to judge
    leader.shot("rankings")
    with page.expect_download() as download:
        page.get_by_role("link", name="下载 Excel").click()
    assert download.value.suggested_filename.endswith(".xlsx")

    page.get_by_role("link", name="超时预警").click()
    page.wait_for_url("**/cockpit/breaches")
    assert page.get_by_role("heading", name="超时预警").is_visible()
    leader.check_a11y()
    leader.shot("breaches")

    page.get_by_role("link", name="走访达标").click()
    page.wait_for_url("**/cockpit/compliance")
    assert page.get_by_role("heading", name="包保部室每周走访").first.is_visible()
    leader.check_a11y()
    leader.shot("compliance")

    page.get_by_role("link", name="日调度").click()
    page.wait_for_url("**/cockpit/board")
    assert page.get_by_text(code).first.is_visible()
    leader.check_a11y()
    leader.shot("board")
    with page.expect_download() as download:
        page.get_by_role("link", name="下载 Excel").click()
    assert download.value.suggested_filename.endswith(".xlsx")
    leader.check_clean()


def test_the_cockpit_on_a_phone(people):
    phone = people("leader-phone", mobile=True)
    phone.sign_in("leader.xn")
    page = phone.page
    page.wait_for_url("**/cockpit/")
    for chart in CHARTS:
        drawn(page, chart)
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= 390, f"the page scrolls sideways on a phone ({width}px)"
    phone.check_a11y()
    phone.shot("phone")
    phone.check_clean()
