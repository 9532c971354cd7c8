"""The enterprise's service hall over the real services (embedded): filing a demand, its
page and timeline, the field-level messages of a refused form, consent and the revisit."""

from __future__ import annotations

ENT = "91630102MA7522T5X6"  # the demo enterprise user's enterprise


def test_an_enterprise_files_a_demand_and_follows_it(person):
    ent = person("qiye.gaoyuan")
    home = ent.get("/")
    assert home.status_code == 302 and home.headers["Location"].endswith("/hall/")
    r = ent.submit(
        "/hall/demands/new",
        {
            "enterprise": ENT,
            "category": "technology",
            "service_item": "",
            "title": "高原新材料耐候性检测",
            "description": "需要检测机构协助完成材料耐候性检测。",
            "contact_name": "王工",
            "contact_phone": "0971-1234567",
        },
    )
    assert r.status_code == 302, r.get_data(as_text=True)[:3000]
    page = ent.get(r.headers["Location"])
    html = page.get_data(as_text=True)
    assert page.status_code == 200
    code = r.headers["Location"].rsplit("/", 1)[1]
    assert code in html and "高原新材料耐候性检测" in html and "已受理" in html
    listing = ent.get("/hall/").get_data(as_text=True)
    assert code in listing


def test_a_refused_demand_shows_the_services_messages_next_to_the_fields(person):
    ent = person("qiye.gaoyuan")
    r = ent.submit(
        "/hall/demands/new",
        {
            "enterprise": ENT,
            "category": "technology",
            "title": "x",
            "description": "y",
            "contact_phone": "not a phone!",
        },
    )
    assert r.status_code == 422
    html = r.get_data(as_text=True)
    assert 'id="contact_phone-errors"' in html  # the intake service's message, by the field


def test_pages_are_guarded_by_role_csrf_and_a_strict_policy(person, browser):
    anonymous = browser.get("/hall/")
    assert anonymous.status_code == 302 and "/sign-in" in anonymous.headers["Location"]
    staff = person("chen.jing")
    assert staff.get("/hall/").status_code == 403
    page = staff.get("/account")
    assert page.status_code == 200 and "陈静" in page.get_data(as_text=True)
    csp = page.headers["Content-Security-Policy"]
    assert "script-src 'self'" in csp and "unsafe-inline" not in csp
    no_token = staff.c.post("/sign-out")
    assert no_token.status_code == 400  # a form without its CSRF token is refused
    assert staff.get("/account").status_code == 200  # still signed in
    fresh = browser.sign_in("chen.jing")
    cookie = fresh.headers["Set-Cookie"]
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie and "Secure" not in cookie


def test_a_wrong_password_is_refused_on_the_form(browser):
    r = browser.submit("/sign-in", {"username": "qiye.gaoyuan", "password": "wrong-password"})
    assert r.status_code == 422
    assert "Wrong log-in name or password." in r.get_data(as_text=True)


def test_a_service_that_is_down_shows_a_retry_page_never_a_trace(person, platform):
    """Intake stops accepting (it answers 503 with Retry-After, as during a shutdown): the
    console answers 503 with Retry-After and a page that says to retry."""
    ent = person("qiye.gaoyuan")
    form = {
        "enterprise": ENT,
        "category": "technology",
        "title": "停机时提交",
        "description": "服务暂停时的提交。",
    }
    platform.services["intake"].accepting.clear()
    try:
        r = ent.submit("/hall/demands/new", form)
    finally:
        platform.services["intake"].accepting.set()
    assert r.status_code == 503
    assert int(r.headers["Retry-After"]) >= 1
    html = r.get_data(as_text=True)
    assert "服务暂时不可用" in html and "Traceback" not in html
    assert ent.submit("/hall/demands/new", form).status_code == 302  # back: accepted
