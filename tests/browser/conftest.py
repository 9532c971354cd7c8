"""Browser tests: the whole platform (embedded) served over HTTP on a free port, driven by
headless Chromium from the Debian packages (``/usr/bin/chromium``) through Playwright.

Each page a journey opens is checked as it is opened: no console error (a CSP violation
is one), no failed request of the page's own assets; ``check_a11y`` runs axe-core (vendored
from the npm registry) and fails on serious or critical violations. Screenshots go to
``test-artifacts/browser/`` (git-ignored)."""

from __future__ import annotations

import os
import shutil
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pyotp
import pytest
from werkzeug.serving import make_server

from onestop import demo
from tests.e2e.conftest import platform  # noqa: F401 — the whole platform, embedded

CHROMIUM = os.environ.get("ONESTOP_CHROMIUM", "/usr/bin/chromium")
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts" / "browser"
AXE = Path(__file__).with_name("vendor") / "axe.min.js"

pytestmark = pytest.mark.browser


@pytest.fixture
def site(platform: Any) -> Iterator[str]:  # noqa: F811
    """The platform's base URL over real HTTP (a threaded server)."""
    server = make_server("127.0.0.1", 0, platform.wsgi, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()
    thread.join(5)


@pytest.fixture(scope="session")
def chromium() -> Iterator[Any]:
    if not shutil.which(CHROMIUM) and not Path(CHROMIUM).exists():
        if os.environ.get("CI"):
            pytest.fail(f"{CHROMIUM} is missing: apt-get install chromium fonts-noto-cjk")
        pytest.skip(f"{CHROMIUM} is missing: apt-get install chromium fonts-noto-cjk")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=["--no-sandbox"])
        yield browser
        browser.close()


class Person:
    """One person's browser tab on the site, with the checks every page gets."""

    def __init__(self, chromium: Any, site: str, platform: Any, name: str, *, mobile: bool = False):  # noqa: F811
        viewport = {"width": 390, "height": 844} if mobile else {"width": 1280, "height": 900}
        self.context = chromium.new_context(base_url=site, viewport=viewport, locale="zh-CN")
        self.page = self.context.new_page()
        self.platform, self.name = platform, name
        self.errors: list[str] = []
        self.page.on("console", lambda m: m.type == "error" and self.errors.append(m.text))
        self.page.on("pageerror", lambda e: self.errors.append(str(e)))
        self.page.on(
            "response",
            lambda r: (
                r.status >= 400
                and r.request.resource_type != "document"
                and self.errors.append(f"{r.status} {r.url}")
            ),
        )
        self.shots = 0

    def sign_in(self, login: str) -> None:
        page = self.page
        page.goto("/sign-in")
        page.get_by_label("登录名").fill(login)
        page.get_by_label("密码").fill(demo.DEMO_PASSWORD)
        known = self.platform.creds.get("people", {}).get(login) or {}
        if known.get("second_factor_secret"):
            page.get_by_label("动态验证码（管理员）").fill(
                pyotp.TOTP(known["second_factor_secret"]).now()
            )
        page.get_by_role("button", name="登录").click()
        page.wait_for_load_state()
        assert "/sign-in" not in page.url, page.content()[:2000]

    def shot(self, label: str) -> Path:
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        self.shots += 1
        path = ARTIFACTS / f"{self.name}-{self.shots:02d}-{label}.png"
        self.page.screenshot(path=str(path), full_page=True)
        return path

    def check_a11y(self) -> None:
        """axe-core on the page as it is: no serious or critical violation."""
        self.page.evaluate(AXE.read_text())
        result = self.page.evaluate(
            "async () => await axe.run(document, {resultTypes: ['violations']})"
        )
        bad = [
            f"{v['id']} ({v['impact']}): {v['help']} — {[n['target'] for n in v['nodes']][:3]}"
            for v in result["violations"]
            if v["impact"] in ("serious", "critical")
        ]
        assert not bad, "\n".join(bad)

    def check_clean(self) -> None:
        assert not self.errors, self.errors

    def close(self) -> None:
        self.context.close()


@pytest.fixture
def people(chromium: Any, site: str, platform: Any) -> Iterator[Any]:  # noqa: F811
    """``people(name, mobile=False)``: a new browser tab; every one is closed after."""
    opened: list[Person] = []

    def open_tab(name: str, *, mobile: bool = False) -> Person:
        p = Person(chromium, site, platform, name, mobile=mobile)
        opened.append(p)
        return p

    yield open_tab
    for p in opened:
        p.close()
