"""The console over the whole embedded platform: ``console`` is a test client of the
platform's WSGI application (the console under "/", the services beside it), and
``sign_in(client, login)`` signs a demo person in through the console's own form."""

from __future__ import annotations

import re
from typing import Any

import pyotp
import pytest
from werkzeug.test import Client

from onestop import demo
from tests.e2e.conftest import platform  # noqa: F401 — the whole platform, embedded

CSRF = re.compile(
    r'name="csrf_token" type="hidden" value="([^"]+)"|name="csrf-token" content="([^"]+)"'
)


def csrf_of(html: str) -> str:
    m = CSRF.search(html)
    assert m, "no CSRF token on the page"
    return m.group(1) or m.group(2)


class Browser:
    """A cookie-keeping client that submits the console's forms with their CSRF token."""

    def __init__(self, platform: Any) -> None:  # noqa: F811
        self.c = Client(platform.wsgi, use_cookies=True)
        self.platform = platform

    def get(self, path: str, **kw: Any) -> Any:
        return self.c.get(path, **kw)

    def submit(self, path: str, data: dict[str, Any], *, page: str | None = None) -> Any:
        """POST ``data`` to ``path`` with the CSRF token of ``page`` (``path`` itself)."""
        html = self.c.get(page or path).get_data(as_text=True)
        return self.c.post(path, data={**data, "csrf_token": csrf_of(html)})

    def sign_in(self, login: str) -> Any:
        data = {"username": login, "password": demo.DEMO_PASSWORD}
        secret = (self.platform.creds.get("people", {}).get(login) or {}).get(
            "second_factor_secret"
        )
        if secret:
            data["totp"] = pyotp.TOTP(secret).now()
        return self.submit("/sign-in", data)


@pytest.fixture
def browser(platform: Any) -> Browser:  # noqa: F811
    return Browser(platform)


@pytest.fixture
def person(platform: Any):  # noqa: F811
    """``person(login)``: a Browser signed in as that demo person."""

    def make(login: str) -> Browser:
        b = Browser(platform)
        r = b.sign_in(login)
        assert r.status_code == 302, r.get_data(as_text=True)[:2000]
        return b

    return make
