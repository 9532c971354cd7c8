"""The closed loop across the people, in real browsers: an enterprise files a demand; the
responsible staff member sees it on her board, screens it and closes it; the enterprise
rates it; the leader's closure KPI for the day changes."""

from __future__ import annotations

from playwright.sync_api import expect


def closure_row(leader) -> str:
    page = leader.page
    page.goto("/cockpit/?unit=630102&grain=day")
    return page.locator('tr[data-kpi="closure"]').inner_text()


def test_file_screen_close_rate_and_the_leaders_kpi_changes(people):
    leader = people("journey-leader")
    leader.sign_in("leader.xn")
    before = closure_row(leader)
    assert "办结 0 件" in before, before  # nothing closed today yet
    leader.shot("kpi-before")

    ent = people("journey-enterprise")
    ent.sign_in("qiye.gaoyuan")
    page = ent.page
    page.goto("/hall/demands/new")
    page.get_by_label("需求名称", exact=True).fill("青稞深加工工艺升级")
    page.get_by_label("需求内容", exact=True).fill("希望引入高校团队改进青稞膳食纤维提取工艺。")
    page.get_by_label("同意向承办的服务机构提供需求内容和联系方式").check()
    page.get_by_role("button", name="提交", exact=True).click()
    page.wait_for_url(lambda url: "/hall/demands/" in url and not url.endswith("/new"))
    code = page.url.rsplit("/", 1)[1]

    staff = people("journey-staff")
    staff.sign_in("chen.jing")
    page = staff.page
    for _ in range(30):  # dispatch names the owner in the background
        if page.get_by_role("link", name="青稞深加工工艺升级").count():
            break
        page.wait_for_timeout(300)
        page.reload()
    page.get_by_role("link", name="青稞深加工工艺升级").click()
    page.wait_for_url(f"**/work/demands/{code}")
    page.get_by_label("复杂程度").select_option("general")
    page.get_by_role("button", name="保存筛选").click()
    expect(page.get_by_text("已保存筛选结果。")).to_be_visible()
    for target in ("办理中", "已反馈"):
        page.get_by_label("转入状态").select_option(label=target)
        page.get_by_label("办理说明").fill(f"转入{target}")
        page.get_by_role("button", name="提交流转").click()
        expect(page.get_by_text("状态已更新。")).to_be_visible()
    page.get_by_label("已解决", exact=True).check()
    page.get_by_label("办结说明（无法解决时必填）").fill("工艺方案已交付企业")
    page.get_by_role("button", name="办结需求").click()
    expect(page.get_by_text("需求已办结。")).to_be_visible()
    staff.shot("closed")

    page = ent.page
    page.goto(f"/hall/demands/{code}")
    expect(page.get_by_text("已办结").first).to_be_visible()
    expect(page.get_by_text("工艺方案已交付企业").first).to_be_visible()  # the timeline
    page.get_by_label("非常满意").check()
    page.get_by_label("意见建议").fill("响应及时")
    page.get_by_role("button", name="提交评价").click()
    expect(page.get_by_text("感谢您的评价。")).to_be_visible()
    ent.check_a11y()
    ent.shot("rated")

    # scoring counts the day's facts as its consumers receive them
    after = before
    for _ in range(40):
        after = closure_row(leader)
        if "办结 1 件" in after:
            break
        leader.page.wait_for_timeout(300)
    assert "受理 1 件，办结 1 件" in after and "100.0%" in after, after
    leader.check_a11y()
    leader.shot("kpi-after")
    for tab in (leader, ent, staff):
        tab.check_clean()
