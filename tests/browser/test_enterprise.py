"""The enterprise's journey in a real browser: sign in, file a demand with the keyboard only,
follow it; on a phone's screen too."""

from __future__ import annotations


def test_an_enterprise_files_a_demand_with_the_keyboard_only(people):
    ent = people("enterprise")
    ent.sign_in("qiye.gaoyuan")
    page = ent.page
    assert page.get_by_role("heading", name="我的需求").is_visible()
    ent.check_a11y()
    page.get_by_role("link", name="提交需求").first.focus()
    page.keyboard.press("Enter")
    page.wait_for_url("**/hall/demands/new")
    ent.check_a11y()
    ent.shot("file")
    # keyboard only: focus the title, type, and tab through the form
    page.get_by_label("需求名称").focus()
    page.keyboard.type("盐湖锂资源提取工艺咨询")
    page.keyboard.press("Tab")
    page.keyboard.type("希望对接高校团队，优化提锂工艺。")
    page.keyboard.press("Tab")
    page.keyboard.type("李工")
    page.keyboard.press("Tab")
    page.keyboard.type("0971-7654321")
    page.get_by_role("button", name="提交").focus()
    page.keyboard.press("Enter")
    page.wait_for_url(lambda url: "/hall/demands/" in url and not url.endswith("/new"))
    assert page.get_by_role("heading", name="盐湖锂资源提取工艺咨询").is_visible()
    assert page.get_by_text("已受理").first.is_visible()
    ent.check_a11y()
    ent.shot("filed")
    ent.check_clean()


def test_the_hall_works_on_a_phone(people):
    phone = people("enterprise-phone", mobile=True)
    phone.sign_in("qiye.gaoyuan")
    page = phone.page
    assert page.get_by_role("heading", name="我的需求").is_visible()
    page.get_by_role("button", name="展开菜单").click()
    page.get_by_role("link", name="提交需求").first.click()
    page.wait_for_url("**/hall/demands/new")
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= 390, f"the page scrolls sideways on a phone ({width}px)"
    phone.shot("phone")
    phone.check_clean()
