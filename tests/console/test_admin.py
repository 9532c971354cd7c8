"""The administrators' pages over the real services (embedded): 三员分立 (each admin role
its own pages and menu), a unit opened and renamed, accounts created (a second factor's
secret shown once) that then sign in, a sibling county's administrator who sees none of
it, the rules' difference before publishing, time limits, the audit log."""

from __future__ import annotations

import html as htmlmod
import json
import re
import time
from typing import Any

import pyotp

from tests.console.conftest import Browser, csrf_of

PASSWORD = "Zhou-Xin-2026-pass"


def post(b: Browser, path: str, data: dict[str, Any], *, page: str) -> Any:
    """POST a form of ``page`` to ``path`` (multi-valued fields as lists)."""
    token = csrf_of(b.get(page).get_data(as_text=True))
    return b.c.post(path, data={**data, "csrf_token": token})


TRAIL = ("person", "apikey", "signing_key", "access", "dead_letter")


def types(r: Any) -> set[str]:
    """The event types in the audit log's table."""
    return set(re.findall(r"<td>([a-z_]+\.[a-z_]+)</td>", text(r)))


def text(r: Any) -> str:
    return str(r.get_data(as_text=True))


def test_each_administrator_sees_only_their_own_pages(person):
    sysadmin, secadmin, auditor = person("sys.admin"), person("sec.admin"), person("audit.admin")
    home = sysadmin.get("/admin/")
    assert home.status_code == 200
    html = text(home)
    for own in ("/admin/units", "/admin/departments", "/admin/map", "/admin/rules"):
        assert f'href="{own}' in html
    assert 'href="/admin/people"' not in html and 'href="/admin/audit"' not in html
    assert sysadmin.get("/admin/people").status_code == 403
    assert sysadmin.get("/admin/people/new").status_code == 403
    assert sysadmin.get("/admin/audit").status_code == 403

    html = text(secadmin.get("/admin/"))
    assert 'href="/admin/people"' in html and 'href="/admin/units"' not in html
    assert secadmin.get("/admin/units/630102").status_code == 403
    assert secadmin.get("/admin/rules").status_code == 403
    assert secadmin.get("/admin/audit").status_code == 403

    html = text(auditor.get("/admin/"))
    assert 'href="/admin/audit"' in html and 'href="/admin/people"' not in html
    assert auditor.get("/admin/units").status_code == 403
    assert auditor.get("/admin/people").status_code == 403

    staff = person("chen.jing")
    assert staff.get("/admin/").status_code == 403
    assert staff.get("/admin/units/630102").status_code == 403


def test_a_system_administrator_opens_renames_and_retires_a_unit(person):
    admin = person("sys.admin")
    start = admin.get("/admin/units")
    assert start.status_code == 302 and start.headers["Location"].endswith("/admin/units/630000")
    page = admin.get("/admin/units/630102")
    assert page.status_code == 200 and "城东区" in text(page) and "东川工业园区" in text(page)

    # a township needs its national code: the directory's message, next to the field
    refused = admin.submit(
        "/admin/units/630102/children",
        {"open_kind": "township", "open_name": "城东测试镇"},
        page="/admin/units/630102",
    )
    assert refused.status_code == 422
    html = text(refused)
    assert 'id="open_code-errors"' in html and "630102 + 3 digits" in html

    opened = admin.submit(
        "/admin/units/630102/children",
        {"open_kind": "park", "open_name": "城东科创园"},
        page="/admin/units/630102",
    )
    assert opened.status_code == 302, text(opened)[:2000]
    code = opened.headers["Location"].rsplit("/", 1)[1]
    assert re.fullmatch(r"630102-P\d{4}", code)
    html = text(admin.get(f"/admin/units/{code}"))
    assert "城东科创园" in html and "已开通" in html and "开通" in html
    assert code in text(admin.get("/admin/units/630102"))

    renamed = admin.submit(
        f"/admin/units/{code}/rename",
        {"rename_name": "城东科技创新园", "rename_reason": "规范名称"},
        page=f"/admin/units/{code}",
    )
    assert renamed.status_code == 302
    html = text(admin.get(f"/admin/units/{code}"))
    assert "城东科技创新园" in html and "规范名称" in html and "更名" in html

    retired = admin.submit(
        f"/admin/units/{code}/retire",
        {"retire_reason": "并入东川工业园区", "retire_successor": "630102-P0001"},
        page=f"/admin/units/{code}",
    )
    assert retired.status_code == 302
    html = text(admin.get(f"/admin/units/{code}"))
    assert "已撤销" in html and "630102-P0001" in html


def test_a_security_administrator_creates_accounts_that_sign_in(person, browser):
    sec = person("sec.admin")
    listing = text(sec.get("/admin/people"))
    assert "chen.jing" in listing and "陈静" in listing

    weak = post(
        sec,
        "/admin/people/new",
        {
            "person_id": "zhou.xin",
            "name": "周欣",
            "unit": "630102",
            "roles": ["office_staff"],
            "password": "weak",
        },
        page="/admin/people/new",
    )
    assert weak.status_code == 422
    assert 'id="password-errors"' in text(weak) and "at least 10 characters" in text(weak)

    made = post(
        sec,
        "/admin/people/new",
        {
            "person_id": "zhou.xin",
            "name": "周欣",
            "unit": "630102",
            "roles": ["office_staff"],
            "staff_id": "staff-005",
            "password": PASSWORD,
        },
        page="/admin/people/new",
    )
    assert made.status_code == 200 and "zhou.xin" in text(made)
    assert "second-factor-secret" not in text(made)  # no second factor for office staff

    # the new person signs in through the console's own form
    r = browser.submit("/sign-in", {"username": "zhou.xin", "password": PASSWORD})
    assert r.status_code == 302 and r.headers["Location"].endswith("/work/")

    # roles changed, then the account disabled: it signs in no more
    changed = post(
        sec,
        "/admin/people/zhou.xin/roles",
        {"roles": ["office_staff", "commissioner"]},
        page="/admin/people/zhou.xin",
    )
    assert changed.status_code == 302
    assert "科技特派员" in text(sec.get("/admin/people/zhou.xin"))
    off = post(sec, "/admin/people/zhou.xin/disable", {}, page="/admin/people/zhou.xin")
    assert off.status_code == 302 and "已停用" in text(sec.get("/admin/people/zhou.xin"))
    again = Browser(browser.platform).submit(
        "/sign-in", {"username": "zhou.xin", "password": PASSWORD}
    )
    assert again.status_code == 422


def test_a_sibling_countys_administrator_sees_none_of_it(person, browser):
    sec = person("sec.admin")
    made = post(
        sec,
        "/admin/people/new",
        {
            "person_id": "cz.admin",
            "name": "城中区系统管理员",
            "unit": "630103",
            "roles": ["sysadmin"],
            "password": PASSWORD,
        },
        page="/admin/people/new",
    )
    assert made.status_code == 200
    secret = re.search(r'id="second-factor-secret">([A-Z2-7]+)<', text(made))
    assert secret, "the second factor's secret is shown once"
    assert secret.group(1) not in text(sec.get("/admin/people/cz.admin"))  # once only

    r = browser.submit(
        "/sign-in",
        {"username": "cz.admin", "password": PASSWORD, "totp": pyotp.TOTP(secret.group(1)).now()},
    )
    assert r.status_code == 302
    cz = browser
    start = cz.get("/admin/units")
    assert start.headers["Location"].endswith("/admin/units/630103")
    # opening a unit in the sibling county is refused by the directory, on the form
    refused = cz.submit(
        "/admin/units/630102/children",
        {"open_kind": "park", "open_name": "越权园区"},
        page="/admin/units/630103",
    )
    assert refused.status_code == 422 and "opened by its administrators" in text(refused)
    assert cz.get("/admin/time-limits?code=630102").status_code in (403, 404)
    assert cz.get("/admin/map/91630102MA7522T5X6").status_code in (403, 404)
    their_map = text(cz.get("/admin/map"))
    assert "91630103MA75A3KX7N" in their_map and "91630102MA7522T5X6" not in their_map
    departments = text(cz.get("/admin/departments"))
    assert "cz-kjj" in departments and "cd-kjj" not in departments and "陈静" not in departments


def test_rules_are_published_after_their_difference_is_shown(person):
    admin = person("sys.admin")
    page = admin.get("/admin/rules/alliance?code=630100")
    assert page.status_code == 200
    html = text(page)
    assert "warn_hours" in html and "formaction" not in html  # no publishing before a diff
    token = csrf_of(html)
    current = re.search(r'<textarea[^>]*name="rules"[^>]*>\s*(.*?)</textarea>', html, re.S)
    assert current
    rules = json.loads(htmlmod.unescape(current.group(1)))
    rules["warn_hours"] = 12
    form = {"csrf_token": token, "effective_from": "2027-01-01", "rules": json.dumps(rules)}
    shown = admin.c.post("/admin/rules/alliance/630100/preview", data=form)
    assert shown.status_code == 200
    html = htmlmod.unescape(text(shown))
    assert re.search(r'class="del">-\s+"warn_hours": 24<', html)
    assert re.search(r'class="add">\+\s+"warn_hours": 12<', html)
    assert "formaction" in html

    bad = admin.c.post("/admin/rules/alliance/630100/preview", data={**form, "rules": "{not json"})
    assert bad.status_code == 422 and 'id="rules-errors"' in text(bad)
    refused = admin.c.post(
        "/admin/rules/alliance/630100/publish",
        data={**form, "rules": json.dumps({**rules, "warn_hours": -3})},
    )
    assert refused.status_code == 422 and "must not be negative" in text(refused)

    published = admin.c.post("/admin/rules/alliance/630100/publish", data=form)
    assert published.status_code == 302
    after = text(admin.get(published.headers["Location"]))
    assert "已发布第 1 版" in after and "2027" in after

    scoring = admin.get("/admin/rules")
    assert scoring.status_code == 200 and "服务人员考核评价表" in text(scoring)

    # time limits: the intake's bounds by the field, then saved
    limits = admin.submit(
        "/admin/time-limits?code=630102",
        {"simple": "1", "general": "500", "complex": "20", "closures": ""},
    )
    assert limits.status_code == 422 and 'id="general-errors"' in text(limits)
    saved = admin.submit(
        "/admin/time-limits?code=630102",
        {"simple": "0", "general": "6", "complex": "20", "closures": "2026-10-01\n2026-10-02"},
    )
    assert saved.status_code == 302
    html = text(admin.get("/admin/time-limits?code=630102"))
    assert "2026-10-02" in html and 'value="6"' in html


def test_staff_owner_transfer_and_agencies(person):
    admin = person("sys.admin")
    saved = admin.submit(
        "/admin/staff/new",
        {"staff_id": "staff-009", "name": "孙丽", "department_id": "cd-kjj", "title": "专员"},
    )
    assert saved.status_code == 302 and "孙丽" in text(admin.get("/admin/departments"))
    unknown_leader = admin.submit(
        "/admin/departments/cd-kjj",
        {
            "dept_id": "cd-kjj",
            "name": "城东区科学技术局",
            "jurisdiction": "630102",
            "leader_staff_id": "nobody",
        },
    )
    assert unknown_leader.status_code == 422
    assert 'id="leader_staff_id-errors"' in text(unknown_leader)

    owner = admin.submit(
        "/admin/map/91630102MA7522T5X6",
        {"department_id": "", "staff_id": "staff-009", "reason": "指定包保"},
    )
    assert owner.status_code == 302
    assert "孙丽" in text(admin.get("/admin/map/91630102MA7522T5X6"))
    across = admin.submit(
        "/admin/staff/staff-009/transfer",
        {"to_staff_id": "staff-001", "reason": "调岗", "open_assignments": "y"},
        page="/admin/staff/staff-009",
    )
    assert across.status_code == 422 and 'id="to_staff_id-errors"' in text(across)
    moved = admin.submit(
        "/admin/staff/staff-009/transfer",
        {"to_staff_id": "staff-005", "reason": "调岗", "open_assignments": "y"},
        page="/admin/staff/staff-009",
    )
    assert moved.status_code == 302
    mapped = text(admin.get(moved.headers["Location"]))
    assert "91630102MA7522T5X6" in mapped and "已移交：企业 1 家" in mapped

    few = admin.submit(
        "/admin/agencies/new",
        {
            "agency_id": "ag-new-1",
            "name": "新研发服务中心",
            "category": "rd",
            "city": "630100",
            "engagements_two_years": "3",
            "rank_basis": "1",
        },
    )
    assert few.status_code == 422 and 'id="engagements_two_years-errors"' in text(few)
    admitted = admin.submit(
        "/admin/agencies/new",
        {
            "agency_id": "ag-new-1",
            "name": "新研发服务中心",
            "category": "rd",
            "city": "630100",
            "engagements_two_years": "6",
            "rank_basis": "1",
        },
    )
    assert admitted.status_code == 200 and "osk_" in text(admitted)
    assert "新研发服务中心" in text(admin.get("/admin/agencies?category=rd"))
    gone = admin.submit("/admin/agencies/ag-new-1", {"ground": "refusal", "note": "拒单"})
    assert gone.status_code == 302 and "已退出" in text(admin.get("/admin/agencies/ag-new-1"))


def test_the_auditor_reads_the_security_trail_only(person):
    auditor = person("audit.admin")
    sec = person("sec.admin")
    created = post(
        sec,
        "/admin/people/new",
        {
            "person_id": "wu.lei",
            "name": "吴磊",
            "unit": "630102",
            "roles": ["leader"],
            "password": PASSWORD,
        },
        page="/admin/people/new",
    )
    assert created.status_code == 200, text(created)[-3000:]
    kinds: set[str] = set()
    for _ in range(40):
        kinds = types(auditor.get("/admin/audit"))
        if "person.created" in kinds:
            break
        time.sleep(0.25)
    assert {"person.created", "person.signed_in"} <= kinds, kinds
    assert all(k.split(".")[0] in TRAIL for k in kinds), kinds  # no business event
    assert types(auditor.get("/admin/audit?type=person.created")) == {"person.created"}
    wide = auditor.get("/admin/audit?from=2020-01-01&to=2026-12-01")
    assert wide.status_code == 422 and 'id="to-errors"' in text(wide)
