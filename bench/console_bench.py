"""The console's server time on the embedded default with a county of 10,000 demands.

Starts the whole platform in this process as ``make run`` does (``onestop.embedded``:
SQLite files, the in-process broker, every service's consumers and relays), seeds the demo,
then files ``--demands`` demands in 城东区 (630102) for the demo enterprise through intake's
public API with the district key, and closes every ``--close-every``-th one (screened,
in progress, feedback, closed solved, rated) — the real use cases, over in-process HTTP —
and waits until scoring has counted them all. Then, for each page, ``--requests`` timed GETs
through the platform's WSGI application (the console renders the page and calls the
services in-process, exactly as it does under ``make run``; no network, no browser):

* ``board``: the staff board ``/work/`` (chen.jing, staff-005 of 城东区: her open demands
  and her department's, and the newest ended ones) and the enterprise's list ``/hall/``;
* ``demand``: a demand's page for its enterprise ``/hall/demands/<code>`` and for the staff
  ``/work/demands/<code>`` (with the dispatch decision, the orders and the archive trace);
* ``dashboard``: the leader's cockpit ``/cockpit/?unit=630102`` (leader.xn, the county's
  KPIs for the month), and its six months' trend ``/cockpit/trend`` (htmx, after load).

Baselines, timed the same way side by side: each page's underlying API call alone (the
same service, the same person's token, no console), and a static file of the console
(``/static/favicon.svg``: the floor of any request through the platform). ``ratios`` puts
each page's p50 over its API call's. Issue 16's goal: p95 < 150 ms per page.

Prints one JSON report and writes it to ``--out``. Figures are never asserted.
Usage: ``python -m bench.console_bench [--demands 10000] [--requests 200]``
(``make bench-console``).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from werkzeug.test import Client

from shared.timezone import china_today

ROOT = Path(__file__).resolve().parent.parent
COUNTY = "630102"
ENTERPRISE = {"credit_code": "91630102MA7522T5X6", "name": "青海高原新材料科技有限公司"}
CATEGORIES = ("technology", "technology", "ip", "funding", "talent", "other")
CSRF = re.compile(r'name="csrf_token" type="hidden" value="([^"]+)"')


def settings_in(base: Path) -> Any:
    from kombu.transport import memory

    from shared.config import load_settings

    memory.Transport.global_state.clear()
    return load_settings(
        {
            "ONESTOP_DATA_DIR": str(base / "var"),
            "ONESTOP_BROKER_URL": f"memory://localhost/consolebench{os.getpid()}",
        }
    )


def start(base: Path) -> Any:
    from onestop import migrate
    from onestop.embedded import Platform
    from onestop.seed import seed_demo, wait_for_copies

    settings = settings_in(base)
    migrate.upgrade(settings)
    creds = seed_demo(settings)
    p: Any = Platform(settings)
    p.start()
    wait_for_copies(settings, creds)
    p.creds = creds
    return p


def _wait(predicate: Callable[[], Any], timeout: float, what: str) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        got = predicate()
        if got:
            return got
        time.sleep(0.5)
    raise TimeoutError(what)


def seed(p: Any, n: int, close_every: int) -> dict[str, Any]:
    """``n`` demands filed in the county through intake's API, every ``close_every``-th
    one driven to closed (solved) and rated; waits until dispatch owns the last one and
    scoring has counted them all."""
    c = Client(p.wsgi)
    h = {"Authorization": f"Bearer {p.creds['district']['key']}"}
    api = "/intake/api/v1/demands"
    started = time.perf_counter()
    codes = []
    for i in range(n):
        body = {
            "enterprise": ENTERPRISE,
            "category": CATEGORIES[i % len(CATEGORIES)],
            "title": f"需求 {i:05d}：正极材料烧结工艺改进",
            "description": "需要改进锂电池正极材料烧结工艺，降低能耗。",
            "source": "online" if i % 2 else "field_visit",
        }
        r = c.post(api, json=body, headers=h)
        if r.status_code != 201:
            raise RuntimeError(f"filing answered {r.status_code}: {r.get_data(as_text=True)}")
        codes.append(r.get_json()["code"])
    filed = time.perf_counter() - started

    def owned(code: str) -> bool:
        return bool(c.get(f"{api}/{code}", headers=h).get_json().get("owner"))

    _wait(lambda: owned(codes[-1]), 1800, "dispatch did not own the demands")
    to_close = codes[::close_every] if close_every else []
    for code in to_close:
        c.patch(
            f"{api}/{code}/screening",
            json={"complexity": "general", "urgency": "high", "feasibility": "high"},
            headers=h,
        )
        for to, extra in (
            ("in_progress", {}),
            ("feedback", {}),
            ("closed", {"resolution": "solved"}),
        ):
            r = c.post(f"{api}/{code}/transitions", json={"to": to, "note": to, **extra}, headers=h)
            if r.status_code != 200:
                raise RuntimeError(f"{code} → {to}: {r.status_code} {r.get_data(as_text=True)}")
        c.post(
            f"{api}/{code}/revisit", json={"rating": 4 + len(code) % 2, "comment": "好"}, headers=h
        )
    month = china_today().strftime("%Y-%m")
    kpis = f"/scoring/api/v1/kpis?jurisdiction={COUNTY}&period={month}"

    def counted() -> dict[str, Any] | None:
        d = c.get(kpis, headers=h).get_json()["demands"]
        return d if d["accepted"] >= n and d["closed"] >= len(to_close) else None

    demands = _wait(counted, 3600, "scoring did not count every demand")
    return {
        "demands": n,
        "closed": len(to_close),
        "filing_seconds": round(filed, 1),
        "seeding_seconds": round(time.perf_counter() - started, 1),
        "kpis_of_the_county": demands,
        "codes": codes,
    }


class Person:
    """A cookie-keeping client of the platform signed in through the console's form."""

    def __init__(self, p: Any, login: str) -> None:
        from onestop import demo

        self.c = Client(p.wsgi, use_cookies=True)
        html = self.c.get("/sign-in").get_data(as_text=True)
        m = CSRF.search(html)
        assert m, "no CSRF token on the sign-in page"
        r = self.c.post(
            "/sign-in",
            data={"username": login, "password": demo.DEMO_PASSWORD, "csrf_token": m.group(1)},
        )
        if r.status_code != 302:
            raise RuntimeError(f"{login} could not sign in: {r.status_code}")
        answer = Client(p.wsgi).post(
            "/directory/api/v1/sessions",
            json={"username": login, "password": demo.DEMO_PASSWORD},
        )
        self.token = {"Authorization": f"Bearer {answer.get_json()['access_token']}"}

    def page(self, path: str, **headers: str) -> Callable[[], int]:
        return lambda: self.c.get(path, headers=headers).status_code

    def api(self, path: str) -> Callable[[], int]:
        return lambda: self.c.get(path, headers=self.token).status_code


def timed(request: Callable[[], int], n: int, warmup: int = 5) -> dict[str, Any]:
    statuses = {request() for _ in range(warmup)}
    runs = []
    for _ in range(n):
        t0 = time.perf_counter()
        statuses.add(request())
        runs.append((time.perf_counter() - t0) * 1000)
    runs.sort()
    return {
        "n": n,
        "status": sorted(statuses),
        "p50_ms": round(statistics.median(runs), 1),
        "p95_ms": round(runs[int(0.95 * (n - 1))], 1),
        "max_ms": round(runs[-1], 1),
    }


def measure(p: Any, codes: list[str], n: int) -> dict[str, Any]:
    staff, ent, leader = Person(p, "chen.jing"), Person(p, "qiye.gaoyuan"), Person(p, "leader.xn")
    code = codes[len(codes) // 2]
    month = china_today().strftime("%Y-%m")
    kpis = f"/scoring/api/v1/kpis?jurisdiction={COUNTY}&period={month}"
    pages = {
        "board /work/ (staff)": staff.page("/work/"),
        "board /hall/ (enterprise's demands)": ent.page("/hall/"),
        "demand /hall/demands/<code>": ent.page(f"/hall/demands/{code}"),
        "demand /work/demands/<code> (staff: decision, orders, trace)": staff.page(
            f"/work/demands/{code}"
        ),
        "dashboard /cockpit/?unit=630102": leader.page(f"/cockpit/?unit={COUNTY}"),
        "dashboard trend /cockpit/trend (htmx)": leader.page(
            f"/cockpit/trend?unit={COUNTY}", **{"HX-Request": "true"}
        ),
    }
    baselines = {
        "board /work/ (staff)": staff.api(
            "/intake/api/v1/demands?open=true&owner=staff-005&limit=200"
        ),
        "board /hall/ (enterprise's demands)": ent.api("/intake/api/v1/demands?limit=100"),
        "demand /hall/demands/<code>": ent.api(f"/intake/api/v1/demands/{code}"),
        "dashboard /cockpit/?unit=630102": leader.api(kpis),
    }
    out: dict[str, Any] = {"pages": {}, "api_calls_alone": {}}
    # interleaved: each page and then its API call, so that both meet the same machine
    for name, request in pages.items():
        out["pages"][name] = timed(request, n)
        if name in baselines:
            out["api_calls_alone"][name] = timed(baselines[name], n)
    out["static_file"] = timed(leader.page("/static/favicon.svg"), n)
    out["ratios_p50_page_over_api"] = {
        name: round(out["pages"][name]["p50_ms"] / base["p50_ms"], 2)
        for name, base in out["api_calls_alone"].items()
        if base["p50_ms"]
    }
    out["goal_p95_under_150ms"] = {name: fig["p95_ms"] < 150 for name, fig in out["pages"].items()}
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--demands", type=int, default=10_000)
    ap.add_argument("--close-every", type=int, default=3, help="close every n-th demand (0: none)")
    ap.add_argument("--requests", type=int, default=200)
    ap.add_argument("--out", type=Path, default=ROOT / "test-artifacts" / "console-bench.json")
    args = ap.parse_args()
    import logging

    logging.disable(logging.INFO)
    with tempfile.TemporaryDirectory(prefix="onestop-consolebench-") as tmp:
        p = start(Path(tmp))
        try:
            seeded = seed(p, args.demands, args.close_every)
            codes = seeded.pop("codes")
            report: dict[str, Any] = {
                "bench": "console",
                "shape": "embedded default (SQLite, in-process broker), one process",
                "python": platform.python_version(),
                "cpus": os.cpu_count(),
                "county": COUNTY,
                "seed": seeded,
            }
            report |= measure(p, codes, args.requests)
        finally:
            p.stop()
    text = json.dumps(report, indent=2, ensure_ascii=False)
    print(text)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(text + "\n")


if __name__ == "__main__":
    main()
