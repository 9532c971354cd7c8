"""服务联盟 in a real browser: an agency clerk acknowledges and completes an order (the
journey issue 16 requires); the station's alliance page; the enterprise's 企业点单 page."""

from __future__ import annotations

from datetime import timedelta

from shared.timezone import china_today
from tests.console.test_alliance import agency_order


def test_an_agency_clerk_acknowledges_and_completes_an_order(people, platform):
    code, order = agency_order(platform, ordered_agency="ag-pat-1")
    clerk = people("agency")
    clerk.sign_in("clerk.pat")
    page = clerk.page
    assert page.get_by_role("heading", name="机构订单").is_visible()
    clerk.check_a11y()
    clerk.shot("orders")
    page.get_by_role("link", name=code).click()
    page.wait_for_url(f"**/alliance/orders/{order['id']}")
    assert page.get_by_text("新型烧结炉专利申请").is_visible()  # consent: the content
    clerk.check_a11y()
    clerk.shot("order")

    page.get_by_label("确认说明").fill("已收到，三日内联系企业")
    page.get_by_role("button", name="确认接单").click()
    page.wait_for_load_state()
    assert page.get_by_text("已确认接单。").is_visible()
    assert page.locator("#order-status").inner_text() == "已确认"

    page.get_by_label("已达成").check()
    funds = china_today() - timedelta(days=1)
    page.get_by_label("企业获得服务或政策资金的日期").fill(funds.isoformat())
    page.get_by_label("完成说明").fill("专利申请已受理")
    page.get_by_role("button", name="提交完成").click()
    page.wait_for_load_state()
    assert page.get_by_text("已提交完成情况。").is_visible()
    assert page.locator("#order-status").inner_text() == "已完成"
    assert page.get_by_text((funds + timedelta(days=7)).isoformat()).is_visible()
    clerk.check_a11y()
    clerk.shot("completed")
    clerk.check_clean()


def test_the_station_sees_its_alliance(people):
    station = people("station")
    station.sign_in("station.cd")
    page = station.page
    assert page.get_by_role("heading", name="服务联盟", exact=True).is_visible()
    assert page.get_by_role("heading", name="标准合同菜单").is_visible()
    assert page.get_by_text("知识产权申请").first.is_visible()
    station.check_a11y()
    station.shot("alliance")
    station.check_clean()


def test_an_enterprise_orders_from_the_catalogue_naming_an_agency(people):
    ent = people("enterprise-order")
    ent.sign_in("qiye.gaoyuan")
    page = ent.page
    page.get_by_role("link", name="企业点单").click()
    page.wait_for_url("**/hall/order")
    assert page.get_by_text("青海知桥专利代理事务所").first.is_visible()
    ent.check_a11y()
    ent.shot("catalogue")
    page.locator('a[href*="item=ip_filing&agency=ag-pat-1"]').click()
    page.wait_for_url("**/hall/demands/new?item=ip_filing&agency=ag-pat-1")
    assert page.get_by_text("点单机构：ag-pat-1").is_visible()
    assert page.get_by_label("服务事项").input_value() == "ip_filing"
    ent.check_a11y()
    ent.shot("order-form")
    ent.check_clean()


def test_a_leader_reads_the_alliance_members_in_rotation_order(people):
    leader = people("leader-alliance")
    leader.sign_in("leader.xn")
    page = leader.page
    page.get_by_role("link", name="服务联盟").click()
    page.wait_for_url("**/alliance/")
    assert page.get_by_role("cell", name="西宁智权知识产权服务有限公司 ag-pat-2").is_visible()
    leader.check_a11y()
    leader.shot("members")
    leader.check_clean()
