"""Callbacks over HTTP (embedded shape): a district system registers a URL, its receiver is
down while its demands move along the loop, and once it listens it gets every change once,
in order per demand, signed; the delivery log and a re-send; a URL that is not https."""

from __future__ import annotations

import dataclasses
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from werkzeug.test import Client

from onestop import migrate
from onestop.embedded import Platform
from onestop.localservers import free_port
from onestop.seed import seed_demo, wait_for_copies
from shared.config import Settings
from tests.e2e.support import auth
from tests.factories import DEMO_DEMAND
from tests.support import wait_for
from tests.unit.intake.test_callbacks import receiver

pytestmark = pytest.mark.e2e
API = "/intake/api/v1"
LOOP = (("in_progress", {}), ("feedback", {}), ("closed", {"resolution": "solved"}))


@pytest.fixture
def platform(embedded_settings: Settings) -> Iterator[Any]:
    """The demo platform with callbacks tried every 50 ms, failures again after 0.1 s
    doubling to 0.4 s (instead of 5 s to 5 minutes)."""
    settings = dataclasses.replace(
        embedded_settings,
        callback_interval=0.05,
        callback_backoff=0.1,
        callback_backoff_cap=0.4,
        callback_attempts=100,
        callback_timeout=2.0,
    )
    migrate.upgrade(settings)
    creds = seed_demo(settings)
    p: Any = Platform(settings)
    p.start()
    wait_for_copies(settings, creds)
    p.creds = creds
    yield p
    p.stop()


class Receiving:
    """A district system's receiver on a real port; not listening until ``start``."""

    def __init__(self) -> None:
        self.port = free_port()
        self.secret = ""
        self.got: list[dict[str, Any]] = []
        self.refused = 0
        self.server: ThreadingHTTPServer | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/onestop"

    def start(self) -> None:
        outer = self
        verify = receiver().verify

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["Content-Length"]))
                try:
                    outer.got.append(verify(outer.secret, self.headers, body))
                    self.send_response(204)
                except Exception:
                    outer.refused += 1
                    self.send_response(401)
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def stop(self) -> None:
        if self.server is not None:
            self.server.shutdown()
            self.server.server_close()


@pytest.fixture
def receiving() -> Iterator[Receiving]:
    r = Receiving()
    yield r
    r.stop()


def transitions(c, h, code):
    feed = c.get(f"{API}/demands/{code}/updates", headers=h).get_json()["items"]
    return [  # the feed's first step is the acceptance: not a change of status
        (u["from_status"], u["to_status"])
        for u in feed
        if u["kind"] == "transition" and u["from_status"] is not None
    ]


def test_a_receiver_down_for_a_while_gets_every_change_once_in_order(platform, receiving):
    c = Client(platform.wsgi)
    h = auth(platform, "district")
    r = c.put(f"{API}/callback", json={"url": receiving.url}, headers=h)
    assert r.status_code == 200, r.get_data(as_text=True)
    receiving.secret = r.get_json()["secret"]
    assert "secret" not in c.get(f"{API}/callback", headers=h).get_json()

    codes = []
    for _ in range(3):
        r = c.post(f"{API}/demands", json=DEMO_DEMAND, headers=h)
        assert r.status_code == 201
        codes.append(r.get_json()["code"])
    for code in codes:
        for to, more in LOOP:
            r = c.post(f"{API}/demands/{code}/transitions", json={"to": to, **more}, headers=h)
            assert r.status_code == 200, r.get_data(as_text=True)

    def tried_and_failed():
        log = c.get(f"{API}/callback/deliveries?status=pending", headers=h).get_json()["items"]
        return [d for d in log if d["attempts"] >= 3 and d["last_status"] is None]

    failing = wait_for(tried_and_failed)  # the receiver is down: attempts back off
    assert {d["demand_code"] for d in failing} <= set(codes)
    assert all("Connection" in d["last_error"] for d in failing)

    receiving.start()
    log = wait_for(
        lambda: (
            (items := c.get(f"{API}/callback/deliveries?limit=100", headers=h).get_json()["items"])
            and all(d["status"] == "delivered" for d in items)
            and items
        ),
        timeout=20,
    )
    assert receiving.refused == 0  # every request was signed right and fresh
    assert len(log) == len(receiving.got) == len({e["event_id"] for e in receiving.got})
    for code in codes:
        got = [
            (e["payload"]["from_status"], e["payload"]["to_status"])
            for e in receiving.got
            if e["payload"]["demand_code"] == code
        ]
        assert got == transitions(c, h, code)  # every change, in the loop's order
        assert got[-1] == ("feedback", "closed")

    # a re-send of a delivered change: the same id again, in the log as a new delivery
    first = log[-1]
    r = c.post(f"{API}/callback/deliveries/{first['id']}/resend", headers=h)
    assert r.status_code == 202 and r.get_json()["resend_of"] == first["id"]
    wait_for(lambda: len(receiving.got) == len(log) + 1)
    assert receiving.got[-1]["event_id"] == first["event_id"]
    again = c.get(f"{API}/callback/deliveries?limit=1", headers=h).get_json()["items"][0]
    assert again["resend_of"] == first["id"]
    wait_for(
        lambda: (
            c.get(f"{API}/callback/deliveries?limit=1", headers=h).get_json()["items"][0]["status"]
            == "delivered"
        )
    )


def test_a_callback_url_that_is_not_https_is_a_422_naming_it(platform):
    c = Client(platform.wsgi)
    h = auth(platform, "district")
    for url in ("http://district.example.gov.cn/cb", "ftp://x.example/cb", "not a url"):
        r = c.put(f"{API}/callback", json={"url": url}, headers=h)
        assert r.status_code == 422, url
        assert "url" in r.get_json()["error"]["fields"]["json"]
    assert c.get(f"{API}/callback", headers=h).status_code == 404  # nothing was stored
    r = c.put(f"{API}/callback", json={"url": "https://district.example.gov.cn/cb"}, headers=h)
    assert r.status_code == 200
    assert c.post(f"{API}/callback/deliveries/999/resend", headers=h).status_code == 404
    assert c.get(f"{API}/callback", headers=auth(platform, "agency")).status_code == 403
    assert c.delete(f"{API}/callback", headers=h).status_code == 204
    assert c.get(f"{API}/callback", headers=h).status_code == 404
