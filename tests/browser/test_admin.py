"""The administrators' journeys in a real browser: the system administrator opens a unit
(a park under a district: counties come from the official division import), the security
administrator creates a staff account for it that then signs in in another tab, and people
of a sibling county (630103) — an enterprise user and a county administrator — see none of
630102's unit or demand. Every page is checked with axe-core and screenshotted."""

from __future__ import annotations

import re

import pyotp

PASSWORD = "Zhou-Xin-2026-pass"


def expected_status(tab, status):
    """Chromium logs a page's own 4xx status as a console error; when the page is meant to
    be refused (a 422 form, a 403/404 page), drop that one message — and only it."""
    wanted = f"the server responded with a status of {status}"
    hits = [e for e in tab.errors if wanted in e]
    assert hits, f"no {status} page was logged: {tab.errors}"
    tab.errors.remove(hits[0])


def create_account(sec, person_id, name, unit, role_label, **bindings):
    page = sec.page
    page.goto("/admin/people/new")
    page.get_by_label("登录名", exact=True).fill(person_id)
    page.get_by_label("姓名", exact=True).fill(name)
    page.get_by_label("所属单位代码").fill(unit)
    page.get_by_label(role_label, exact=True).check()
    if "credit_codes" in bindings:
        page.get_by_label("企业统一社会信用代码（企业用户，每行一个）").fill(
            bindings["credit_codes"]
        )
    page.get_by_label("初始密码").fill(PASSWORD)
    page.get_by_role("button", name="开设", exact=True).click()
    page.wait_for_load_state()
    assert page.get_by_text(f"账号 {person_id} 已开设。").is_visible(), page.content()[:3000]


def sign_in_as(tab, login, totp_secret=None):
    page = tab.page
    page.goto("/sign-in")
    page.get_by_label("登录名").fill(login)
    page.get_by_label("密码", exact=True).fill(PASSWORD)
    if totp_secret:
        page.get_by_label("动态验证码（管理员）").fill(pyotp.TOTP(totp_secret).now())
    page.get_by_role("button", name="登录").click()
    page.wait_for_load_state()
    assert "/sign-in" not in page.url, page.content()[:2000]


def test_an_administrator_opens_a_unit_and_creates_an_account_that_signs_in(people):
    sysadmin = people("sysadmin")
    sysadmin.sign_in("sys.admin")
    page = sysadmin.page
    assert page.get_by_role("heading", name="系统管理").is_visible()
    assert page.get_by_role("link", name="单位与开通").first.is_visible()
    assert page.get_by_role("link", name="账号与角色").count() == 0  # 三员分立
    sysadmin.check_a11y()
    sysadmin.shot("overview")

    page.get_by_role("link", name="单位与开通").first.click()
    page.wait_for_url("**/admin/units/630000")
    page.goto("/admin/units/630102")
    assert page.get_by_role("heading", name="城东区").is_visible()
    sysadmin.check_a11y()
    # a township without its national code: the directory's message by the field
    page.get_by_label("单位类型").select_option("township")
    page.get_by_label("单位名称").fill("城东测试镇")
    page.get_by_role("button", name="开通", exact=True).click()
    page.wait_for_load_state()
    assert page.locator("#open_code-errors").is_visible()
    expected_status(sysadmin, 422)
    sysadmin.check_a11y()
    sysadmin.shot("refused")
    page.get_by_label("单位类型").select_option("park")
    page.get_by_label("单位名称").fill("城东科创园")
    page.get_by_label("统一代码（乡镇必填：9位国家代码）").fill("")
    page.get_by_role("button", name="开通", exact=True).click()
    page.wait_for_url(re.compile(r".*/admin/units/630102-P\d{4}$"))
    code = page.url.rsplit("/", 1)[1]
    assert page.get_by_role("heading", name="城东科创园").is_visible()
    assert page.get_by_text("已开通 城东科创园").is_visible()
    sysadmin.check_a11y()
    sysadmin.shot("opened")
    sysadmin.check_clean()

    sec = people("secadmin")
    sec.sign_in("sec.admin")
    sec.page.goto("/admin/people")
    assert sec.page.get_by_role("heading", name="账号与角色").is_visible()
    assert sec.page.get_by_role("link", name="单位与开通").count() == 0
    sec.check_a11y()
    sec.shot("people")
    sec.page.goto("/admin/people/new")
    sec.check_a11y()
    create_account(sec, "zhou.xin", "周欣", code, "办理人员")
    sec.check_a11y()
    sec.shot("created")
    sec.page.get_by_role("link", name="查看账号").click()
    sec.page.wait_for_url("**/admin/people/zhou.xin")
    sec.check_a11y()
    sec.shot("person")
    sec.check_clean()

    newcomer = people("new-staff")
    sign_in_as(newcomer, "zhou.xin")
    assert newcomer.page.url.endswith("/work/")
    assert newcomer.page.get_by_role("link", name="周欣").is_visible()
    newcomer.shot("signed-in")
    newcomer.check_clean()


def test_a_sibling_county_sees_none_of_it(people):
    ent = people("enterprise")
    ent.sign_in("qiye.gaoyuan")
    page = ent.page
    page.goto("/hall/demands/new")
    page.get_by_label("需求名称", exact=True).fill("城东区检测需求")
    page.get_by_label("需求内容", exact=True).fill("需要材料检测。")
    page.get_by_role("button", name="提交", exact=True).click()
    page.wait_for_url(lambda url: "/hall/demands/" in url and not url.endswith("/new"))
    demand = page.url.rsplit("/", 1)[1]

    sec = people("secadmin")
    sec.sign_in("sec.admin")
    create_account(
        sec, "cz.qiye", "西宁光伏装备", "630103", "企业用户", credit_codes="91630103MA75A3KX7N"
    )
    create_account(sec, "cz.admin", "城中区系统管理员", "630103", "系统管理员")
    secret = sec.page.locator("#second-factor-secret").inner_text().strip()
    assert secret
    sec.check_a11y()
    sec.shot("second-factor-once")

    sibling = people("sibling-enterprise")
    sign_in_as(sibling, "cz.qiye")
    assert sibling.page.get_by_role("heading", name="我的需求").is_visible()
    assert sibling.page.get_by_text(demand).count() == 0
    sibling.check_a11y()
    sibling.shot("their-list")
    answer = sibling.page.goto(f"/hall/demands/{demand}")
    assert answer is not None and answer.status in (403, 404)
    expected_status(sibling, answer.status)
    assert sibling.page.get_by_role("heading", name=re.compile("未找到|无权访问")).is_visible()
    assert sibling.page.get_by_text("城东区检测需求").count() == 0
    sibling.check_a11y()
    sibling.shot("demand-refused")

    county = people("sibling-admin")
    sign_in_as(county, "cz.admin", secret)
    cpage = county.page
    assert cpage.url.endswith("/admin/")
    cpage.get_by_role("link", name="单位与开通").first.click()
    cpage.wait_for_url("**/admin/units/630103")
    assert cpage.get_by_role("heading", name="城中区").is_visible()
    assert cpage.get_by_text("东川工业园区").count() == 0
    county.check_a11y()
    county.shot("their-units")
    cpage.goto("/admin/units/630102")
    cpage.get_by_label("单位类型").select_option("park")
    cpage.get_by_label("单位名称").fill("越权园区")
    cpage.get_by_role("button", name="开通", exact=True).click()
    cpage.wait_for_load_state()
    assert cpage.get_by_role("alert").filter(has_text="opened by its administrators").is_visible()
    expected_status(county, 422)
    county.check_a11y()
    county.shot("open-refused")
    answer = cpage.goto("/admin/map/91630102MA7522T5X6")
    assert answer is not None and answer.status in (403, 404)
    expected_status(county, answer.status)
    cpage.goto("/admin/map")
    assert cpage.get_by_text("91630103MA75A3KX7N").is_visible()
    assert cpage.get_by_text("91630102MA7522T5X6").count() == 0
    county.check_a11y()
    county.shot("their-map")
    county.check_clean()
    sibling.check_clean()
    sec.check_clean()


def test_rules_time_limits_and_the_audit_log_pages(people):
    sysadmin = people("sysadmin-rules")
    sysadmin.sign_in("sys.admin")
    page = sysadmin.page
    page.goto("/admin/rules/alliance?code=630100")
    box = page.get_by_label("规则（JSON）")
    box.fill(box.input_value().replace('"warn_hours": 24', '"warn_hours": 12'))
    page.get_by_label("生效日期").fill("2027-01-01")
    page.get_by_role("button", name="比对差异").click()
    page.wait_for_load_state()
    assert page.locator(".diff .add").filter(has_text='"warn_hours": 12').is_visible()
    assert page.locator(".diff .del").filter(has_text='"warn_hours": 24').is_visible()
    sysadmin.check_a11y()
    sysadmin.shot("rules-diff")
    page.get_by_role("button", name="发布", exact=True).click()
    page.wait_for_load_state()
    assert page.get_by_text("已发布第 1 版").is_visible()
    page.goto("/admin/rules")
    assert page.get_by_text("服务人员考核评价表").count() >= 1
    sysadmin.check_a11y()
    for path, label in (
        ("/admin/time-limits?code=630102", "time-limits"),
        ("/admin/departments", "departments"),
        ("/admin/staff/staff-005", "staff"),
        ("/admin/map", "map"),
        ("/admin/map/91630102MA7522T5X6", "owner"),
        ("/admin/agencies", "agencies"),
        ("/admin/agencies/new", "admit"),
        ("/admin/agencies/ag-pat-1", "agency"),
    ):
        answer = page.goto(path)
        assert answer is not None and answer.status == 200, path
        sysadmin.check_a11y()
        sysadmin.shot(label)
    sysadmin.check_clean()

    auditor = people("auditor")
    auditor.sign_in("audit.admin")
    apage = auditor.page
    apage.get_by_role("link", name="审计日志").first.click()
    apage.wait_for_url("**/admin/audit")
    assert apage.get_by_role("cell", name="person.signed_in").first.is_visible()
    auditor.check_a11y()
    auditor.shot("audit")
    auditor.check_clean()
