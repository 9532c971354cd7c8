"""Single sign-on through a real OpenID provider (embedded shape): the suite starts
oidc-provider on Node (``tests/oidc/provider.mjs``, installed by make test); the directory
of the platform is the relying party (through the platform's WSGI client) and ``requests``
is the browser that signs in on the provider's own pages. A linked person gets a session
whose token intake accepts; an unlinked subject, a sign-in refused at the provider, a
tampered or replayed ``state`` and an administrator without a second factor the provider
vouches for are 401; without an issuer configured the endpoints are 404."""

from __future__ import annotations

import dataclasses
import os
import re
import shutil
import subprocess
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urljoin, urlsplit

import pytest
import requests
from werkzeug.test import Client

from onestop import migrate
from onestop.embedded import Platform
from onestop.localservers import free_port
from onestop.seed import seed_demo, wait_for_copies
from services.directory import totp
from shared.config import load_settings
from tests.factories import DEMO_DEMAND
from tests.support import REAL_SERVERS, need, reset_in_process_broker, wait_for

pytestmark = pytest.mark.e2e

OIDC = Path(__file__).resolve().parents[1] / "oidc"
API = "/directory/api/v1"
RP = "http://localhost"  # the werkzeug client's base URL: the directory under test
REDIRECT_URI = f"{RP}{API}/sso/callback"
CLIENT_ID, CLIENT_SECRET = "onestop-directory", "onestop-directory-secret"
REFUSED = "Wrong log-in name or password."


@dataclasses.dataclass(frozen=True)
class OidcProvider:
    issuer: str
    log: Path


@pytest.fixture(scope="module")
def oidc_provider(tmp_path_factory: pytest.TempPathFactory) -> Iterator[OidcProvider]:
    """oidc-provider on a free loopback port, its one client the directory under test;
    skipped without Node locally, failed without it under CI."""
    node = shutil.which("node")
    need(node is not None, "nodejs")
    if not (OIDC / "node_modules" / "oidc-provider").is_dir():
        missing = "the OIDC provider's packages: run npm ci --prefix tests/oidc (make test does)"
        pytest.fail(missing) if os.environ.get("CI") else pytest.skip(missing)
    port = free_port()
    log = tmp_path_factory.mktemp("oidc") / "provider.log"
    env = {
        "PATH": str(Path(str(node)).parent),
        "OIDC_REDIRECT_URI": REDIRECT_URI,
        "OIDC_CLIENT_ID": CLIENT_ID,
        "OIDC_CLIENT_SECRET": CLIENT_SECRET,
    }
    with log.open("wb") as out:
        proc = subprocess.Popen(
            [str(node), "provider.mjs", str(port)], cwd=OIDC, env=env, stdout=out, stderr=out
        )
    try:
        deadline = time.monotonic() + 30
        while "listening on" not in log.read_text(errors="replace"):
            if proc.poll() is not None or time.monotonic() > deadline:
                pytest.fail(f"oidc-provider did not start:\n{log.read_text(errors='replace')}")
            time.sleep(0.05)
        version = subprocess.run([str(node), "--version"], capture_output=True, text=True)
        REAL_SERVERS.append(
            f"oidc-provider (Node {version.stdout.strip()}) on 127.0.0.1:{port} (log {log})"
        )
        yield OidcProvider(f"http://127.0.0.1:{port}", log)
    finally:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


@pytest.fixture(scope="module")
def world(oidc_provider: OidcProvider, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    """The platform with single sign-on configured, seeded with the demo; the security
    administrator has linked chen.jing, sec.admin and audit.admin to their subjects."""
    tmp = tmp_path_factory.mktemp("sso")
    reset_in_process_broker()
    settings = load_settings(
        {
            "ONESTOP_DATA_DIR": str(tmp / "var"),
            "ONESTOP_BROKER_URL": f"memory://localhost/{tmp.name}",
            "ONESTOP_SWEEP_INTERVAL": "0.2",
            "ONESTOP_RETRY_BACKOFF": "0.01",
            "ONESTOP_CREDENTIAL_CACHE": "1",
            "ONESTOP_OIDC_ISSUER": oidc_provider.issuer,
            "ONESTOP_OIDC_CLIENT_ID": CLIENT_ID,
            "ONESTOP_OIDC_CLIENT_SECRET": CLIENT_SECRET,
            "ONESTOP_OIDC_REDIRECT_URI": REDIRECT_URI,
        }
    )
    migrate.upgrade(settings)
    creds = seed_demo(settings)
    p: Any = Platform(settings)
    p.start()
    try:
        wait_for_copies(settings, creds)
        p.creds, p.issuer = creds, oidc_provider.issuer
        c = Client(p.wsgi)
        sec = creds["people"]["sec.admin"]
        code = totp.code_at(sec["second_factor_secret"], datetime.now(UTC))
        body = {"username": "sec.admin", "password": sec["password"], "totp": code}
        p.secadmin = bearer(c.post(f"{API}/sessions", json=body).get_json())
        for person_id in ("chen.jing", "sec.admin", "audit.admin"):
            link = {"issuer": oidc_provider.issuer, "subject": person_id}
            r = c.post(f"{API}/people/{person_id}/identities", json=link, headers=p.secadmin)
            assert r.status_code == 201, r.get_json()
        yield p
    finally:
        p.stop()


def bearer(session: dict[str, Any]) -> dict[str, str]:
    return {"Authorization": f"Bearer {session['access_token']}"}


def at_provider(c: Client, login: str, *, abort: bool = False) -> str:
    """Begin a sign-on at the directory, then act as the browser on the provider's pages:
    sign in as ``login`` and consent (or abort); the URL the provider sends back to."""
    r = c.get(f"{API}/sso/login")
    assert r.status_code == 302, r.get_data(as_text=True)
    browser, location = requests.Session(), r.headers["Location"]
    for _ in range(20):
        if location.startswith(RP):
            return location
        page = browser.get(location, allow_redirects=False, timeout=10)
        if page.status_code in (302, 303):
            location = urljoin(page.url, page.headers["Location"])
            continue
        assert page.status_code == 200, page.text[:500]
        if abort:
            location = urljoin(page.url, f"{urlsplit(page.url).path}/abort")
            continue
        action = re.search(r'<form[^>]*action="([^"]+)"', page.text)
        prompt = re.search(r'name="prompt" value="(\w+)"', page.text)
        assert action and prompt, page.text[:500]
        data = {"prompt": prompt.group(1)}
        if prompt.group(1) == "login":
            data.update(login=login, password="not checked by the development pages")
        sent = browser.post(urljoin(page.url, action.group(1)), data=data, allow_redirects=False)
        location = urljoin(sent.url, sent.headers["Location"])
    raise AssertionError("the provider never sent the browser back")


def back(c: Client, callback_url: str) -> Any:
    """The browser arriving at the directory's callback."""
    return c.get(callback_url.removeprefix(RP))


def sso(c: Client, login: str) -> Any:
    return back(c, at_provider(c, login))


def test_a_linked_person_signs_in_at_the_platform_and_intake_takes_the_token(world):
    c = Client(world.wsgi)
    r = sso(c, "chen.jing")
    assert r.status_code == 201, r.get_json()
    session = r.get_json()
    assert session["person"]["person_id"] == "chen.jing" and session["token_type"] == "Bearer"
    assert "onestop_sso_state=;" in r.headers["Set-Cookie"]  # the binding is spent
    r = c.post("/intake/api/v1/demands", json=DEMO_DEMAND, headers=bearer(session))
    assert r.status_code == 201, r.get_json()
    assert c.get(f"{API}/me", headers=bearer(session)).get_json()["subject"] == "person:chen.jing"
    # the refresh token works as a password session's does
    r = c.post(f"{API}/sessions/refresh", json={"refresh_token": session["refresh_token"]})
    assert r.status_code == 200

    def signed_in_by_sso():
        admin = {"Authorization": f"Bearer {world.creds['admin']['key']}"}
        now = datetime.now(UTC)
        query = {
            "type": "person.signed_in",
            "from": (now - timedelta(hours=1)).isoformat(),
            "to": (now + timedelta(hours=1)).isoformat(),
        }
        r = c.get("/archive/api/v1/events", query_string=query, headers=admin)
        items = r.get_json()["items"] if r.status_code == 200 else []
        return [e for e in items if e["payload"]["reason"] == "sso"]

    event = wait_for(signed_in_by_sso)[0]
    assert event["payload"]["person_id"] == "chen.jing"
    assert event["payload"]["session_id"] == session["session_id"]


def test_the_link_is_shown_and_one_subject_is_one_account(world):
    c = Client(world.wsgi)
    link = {"issuer": world.issuer, "subject": "chen.jing"}
    r = c.post(f"{API}/people/tepai.li/identities", json=link, headers=world.secadmin)
    assert r.status_code == 409, r.get_json()
    r = c.post(
        f"{API}/people/tepai.li/identities",
        json={"issuer": "https://elsewhere.example", "subject": "x"},
        headers=world.secadmin,
    )
    assert r.status_code == 422 and r.get_json()["error"]["fields"]["json"]["issuer"]
    r = c.post(
        f"{API}/people/tepai.li/identities",
        json={"issuer": world.issuer, "subject": "tepai-li"},
        headers=world.secadmin,
    )
    assert r.status_code == 201, r.get_json()
    assert [i["subject"] for i in r.get_json()["identities"]] == ["tepai-li"]
    assert r.get_json()["identities"][0]["linked_by"] == "person:sec.admin"
    staff = bearer(sso(c, "chen.jing").get_json())  # a staff member links nobody
    r = c.post(f"{API}/people/tepai.li/identities", json=link, headers=staff)
    assert r.status_code == 403


def test_a_subject_linked_to_no_account_is_refused_like_a_failed_log_in(world):
    c = Client(world.wsgi)
    r = sso(c, "stranger")
    assert r.status_code == 401
    assert r.get_json()["error"]["message"] == REFUSED


def test_a_sign_in_refused_at_the_platform_is_refused(world):
    c = Client(world.wsgi)
    url = at_provider(c, "chen.jing", abort=True)
    assert parse_qs(urlsplit(url).query)["error"] == ["access_denied"]
    r = back(c, url)
    assert r.status_code == 401
    assert "access_denied" in r.get_json()["error"]["message"]


def test_a_tampered_or_replayed_state_is_refused(world):
    c = Client(world.wsgi)
    url = at_provider(c, "chen.jing")
    state = parse_qs(urlsplit(url).query)["state"][0]
    r = back(c, url.replace(f"state={state}", f"state={state[:-2]}xx"))
    assert r.status_code == 401
    assert r.get_json()["error"]["message"].startswith("The single sign-on did not complete")
    # the real answer in another browser (no cookie) is refused too, and the state is spent
    r = back(Client(world.wsgi), url)
    assert r.status_code == 401
    url = at_provider(c, "chen.jing")
    assert back(c, url).status_code == 201
    c.set_cookie("onestop_sso_state", parse_qs(urlsplit(url).query)["state"][0], path=API)
    assert back(c, url).status_code == 401  # the same answer again


def test_an_administrator_needs_a_second_factor_the_platform_vouches_for(world):
    c = Client(world.wsgi)
    r = sso(c, "sec.admin")  # the provider checked an OTP: amr ["pwd", "otp"]
    assert r.status_code == 201, r.get_json()
    assert r.get_json()["person"]["roles"] == ["secadmin"]
    r = sso(c, "audit.admin")  # a password only
    assert r.status_code == 401
    assert "second factor" in r.get_json()["error"]["message"]


def test_a_disabled_account_signs_in_no_more(world):
    c = Client(world.wsgi)
    r = c.post(f"{API}/people/chen.jing/disable", headers=world.secadmin)
    assert r.status_code == 200
    try:
        r = sso(c, "chen.jing")
        assert r.status_code == 401
        assert r.get_json()["error"]["message"] == REFUSED
    finally:
        assert c.post(f"{API}/people/chen.jing/enable", headers=world.secadmin).status_code == 200


def test_without_an_issuer_single_sign_on_is_not_found(tmp_path):
    settings = load_settings({"ONESTOP_DATA_DIR": str(tmp_path / "var")})
    migrate.upgrade(settings, ("directory",))
    from services.directory.app import create_app

    c = create_app(settings).test_client()
    for path in ("/api/v1/sso/login", "/api/v1/sso/callback?code=x&state=y"):
        r = c.get(path)
        assert r.status_code == 404
        assert r.get_json()["error"]["message"] == "Single sign-on is not configured."
