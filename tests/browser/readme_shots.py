"""The README's screenshots, one per role (``make screenshots`` → ``docs/console/*.png``).

The whole platform on the embedded default in a throwaway directory, a little of the loop
made through the APIs (a demand filed by the enterprise and screened, an agency order), then
each demo person's start page in headless Chromium at a small size.
"""

from __future__ import annotations

import sys
import tempfile
import threading
from pathlib import Path
from typing import Any

from werkzeug.serving import make_server
from werkzeug.test import Client

from onestop import migrate
from onestop.embedded import Platform
from onestop.seed import seed_demo, wait_for_copies
from shared.config import load_settings
from tests.browser.conftest import CHROMIUM, Person
from tests.console.test_alliance import agency_order
from tests.e2e.support import auth
from tests.factories import DEMO_DEMAND
from tests.support import wait_for

OUT = Path(__file__).resolve().parents[2] / "docs" / "console"
SIZE = {"width": 1000, "height": 640}

# (file, the demo person, the page)
SHOTS = (
    ("enterprise", "qiye.gaoyuan", "{demand}"),
    ("office", "chen.jing", "/work/"),
    ("leader", "leader.xn", "/cockpit/?unit=630102"),
    ("station", "station.xn", "/alliance/"),
    ("agency", "clerk.pat", "/alliance/orders"),
    ("admin", "sys.admin", "/admin/units?code=630102"),
)


def _loop(platform: Any) -> str:
    """A demand of the enterprise, screened and in progress; another closed and rated; an
    agency order."""
    c, district = Client(platform.wsgi), auth(platform, "district")
    r = c.post(
        "/intake/api/v1/demands",
        json={**DEMO_DEMAND, "title": "高纯材料提纯工艺改进", "consent_to_share": True},
        headers=district,
    )
    code = r.get_json()["code"]
    c.patch(
        f"/intake/api/v1/demands/{code}/screening", json={"complexity": "general"}, headers=district
    )
    c.post(
        f"/intake/api/v1/demands/{code}/transitions",
        json={"to": "in_progress", "note": "已联系高校团队"},
        headers=district,
    )
    closed = c.post(
        "/intake/api/v1/demands",
        json={**DEMO_DEMAND, "title": "低温锂电池检测"},
        headers=district,
    ).get_json()["code"]
    c.patch(
        f"/intake/api/v1/demands/{closed}/screening",
        json={"complexity": "simple"},
        headers=district,
    )
    for step in (
        {"to": "in_progress", "note": "已联系检测机构"},
        {"to": "feedback", "note": "检测报告已送达"},
        {"to": "closed", "note": "企业确认", "resolution": "solved"},
    ):
        c.post(f"/intake/api/v1/demands/{closed}/transitions", json=step, headers=district)
    c.post(f"/intake/api/v1/demands/{closed}/revisit", json={"rating": 5}, headers=district)
    agency_order(platform, ordered_agency="ag-pat-1")
    wait_for(lambda: platform.quiesce())
    return f"/hall/demands/{code}"


def main() -> None:
    from playwright.sync_api import sync_playwright

    base = Path(tempfile.mkdtemp(prefix="onestop-shots-"))
    settings = load_settings(
        {"ONESTOP_DATA_DIR": str(base / "var"), "ONESTOP_SWEEP_INTERVAL": "0.2"}
    )
    migrate.upgrade(settings)
    creds = seed_demo(settings)
    platform: Any = Platform(settings)
    platform.start()
    wait_for_copies(settings, creds)
    platform.creds = creds
    server = make_server("127.0.0.1", 0, platform.wsgi, threaded=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    site = f"http://127.0.0.1:{server.server_port}"
    try:
        demand = _loop(platform)
        OUT.mkdir(parents=True, exist_ok=True)
        with sync_playwright() as p:
            chromium = p.chromium.launch(
                executable_path=CHROMIUM, headless=True, args=["--no-sandbox"]
            )
            for name, login, path in SHOTS:
                tab = Person(chromium, site, platform, name)
                tab.context.close()
                tab.context = chromium.new_context(base_url=site, viewport=SIZE, locale="zh-CN")
                tab.page = tab.context.new_page()
                tab.sign_in(login)
                tab.page.goto(path.format(demand=demand))
                tab.page.wait_for_load_state("networkidle")
                tab.page.screenshot(path=str(OUT / f"{name}.png"))
                tab.context.close()
                print(f"wrote {OUT / name}.png", flush=True)
            chromium.close()
    finally:
        server.shutdown()
        platform.stop()


if __name__ == "__main__":
    sys.exit(main())
