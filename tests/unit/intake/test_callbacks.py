"""Callbacks' pure rules: the Standard Webhooks signature, the back-off schedule and what an
attempt leaves, which URLs may receive; and the example receiver's verification."""

from __future__ import annotations

import base64
import importlib.util
import json
from pathlib import Path

import pytest

from services.intake.callbacks import (
    SECRET_PREFIX,
    Outcome,
    Reach,
    Schedule,
    new_secret,
    outcome,
    signature,
    signed_headers,
    url_error,
)

ROOT = Path(__file__).resolve().parents[3]

# The Standard Webhooks specification's own example (and Svix's documentation's)
SPEC_SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
SPEC_ID, SPEC_TS, SPEC_BODY = "msg_p5jXN8AQM9LWM0D4loKWxJek", 1614265330, b'{"test": 2432232314}'
SPEC_SIGNATURE = "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="


def receiver():
    spec = importlib.util.spec_from_file_location(
        "callback_receiver", ROOT / "examples" / "callback_receiver.py"
    )
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


# -- signing ------------------------------------------------------------------------------
def test_the_signature_is_the_standard_webhooks_one():
    assert signature(SPEC_SECRET, SPEC_ID, SPEC_TS, SPEC_BODY) == SPEC_SIGNATURE


def test_the_signature_covers_the_id_the_timestamp_and_every_byte_of_the_body():
    base = signature(SPEC_SECRET, SPEC_ID, SPEC_TS, SPEC_BODY)
    assert signature(SPEC_SECRET, "msg_other", SPEC_TS, SPEC_BODY) != base
    assert signature(SPEC_SECRET, SPEC_ID, SPEC_TS + 1, SPEC_BODY) != base
    assert signature(SPEC_SECRET, SPEC_ID, SPEC_TS, SPEC_BODY + b" ") != base
    assert signature(new_secret(), SPEC_ID, SPEC_TS, SPEC_BODY) != base


def test_a_new_secret_is_32_random_bytes_behind_whsec():
    a, b = new_secret(), new_secret()
    assert a.startswith(SECRET_PREFIX) and a != b
    assert len(base64.b64decode(a.removeprefix(SECRET_PREFIX))) == 32


def test_an_attempt_carries_its_id_timestamp_and_signature():
    h = signed_headers(SPEC_SECRET, SPEC_ID, SPEC_TS, SPEC_BODY)
    assert h == {
        "Content-Type": "application/json",
        "webhook-id": SPEC_ID,
        "webhook-timestamp": str(SPEC_TS),
        "webhook-signature": SPEC_SIGNATURE,
    }


# -- the schedule -------------------------------------------------------------------------
def test_the_delay_doubles_from_the_base_up_to_the_cap():
    s = Schedule(base=5, cap=300, attempts=30)
    assert [s.delay(n) for n in range(1, 9)] == [5, 10, 20, 40, 80, 160, 300, 300]
    assert s.delay(10_000) == 300  # no overflow however many


def test_after_the_last_attempt_a_delivery_is_dead_lettered():
    s = Schedule(base=1, cap=4, attempts=3)
    assert s.retry_in(1) == 1 and s.retry_in(2) == 2
    assert s.retry_in(3) is None


def test_the_defaults_outlast_a_receiver_down_for_ten_minutes():
    s = Schedule()
    assert (s.base, s.cap, s.attempts) == (5, 300, 30)
    assert s.span() == 5 + 10 + 20 + 40 + 80 + 160 + 23 * 300  # 7,215 s: two hours
    assert s.span() > 600 + s.cap  # down 10 minutes: at least one attempt after it is back


def test_a_schedule_needs_a_positive_base_a_cap_above_it_and_an_attempt():
    for bad in ({"base": 0}, {"base": 10, "cap": 5}, {"attempts": 0}):
        with pytest.raises(ValueError):
            Schedule(**bad)
    with pytest.raises(ValueError):
        Schedule().delay(0)


def test_any_2xx_delivers_anything_else_is_retried_then_dead():
    s = Schedule(base=2, cap=8, attempts=3)
    assert outcome(200, 1, s) == outcome(204, 3, s) == Outcome("delivered")
    assert outcome(None, 1, s) == Outcome("pending", 2)  # refused or timed out
    assert outcome(503, 2, s) == Outcome("pending", 4)
    assert outcome(302, 1, s) == Outcome("pending", 2)  # a redirect is not followed
    assert outcome(500, 3, s) == Outcome("dead")


# -- where callbacks may go ---------------------------------------------------------------
@pytest.mark.parametrize(
    "url",
    [
        "https://district.example.gov.cn/onestop/cb",
        "https://202.100.1.1:8443/cb?system=xn",
        "https://[2400:da00::1]/cb",
        # a government network's receivers, on the private networks listed
        "https://10.2.3.4:8443/cb?system=xn",
        "https://[fd00:1::1]/cb",
    ],
)
def test_https_urls_receive(url):
    assert url_error(url, reach=Reach.of(False, ("10.2.0.0/16", "fd00:1::/32"))) is None


@pytest.mark.parametrize(
    ("address", "why"),
    [
        ("10.9.9.9", "not listed"),  # private, not listed
        ("192.168.1.10", "not listed"),
        ("::ffff:10.2.3.4", None),  # an IPv4-mapped address is its IPv4 one
        ("169.254.169.254", "not an address"),  # cloud metadata
        ("fe80::1", "not an address"),
        ("0.0.0.0", "not an address"),
        ("224.0.0.1", "not an address"),
        ("127.0.0.1", "loopback"),
        ("::1", "loopback"),
        ("8.8.8.8", None),
    ],
)
def test_callbacks_never_reach_the_platforms_side_of_the_network(address, why):
    reach = Reach.of(False, ("10.2.0.0/16",))
    problem = reach.address_error(address)
    assert (problem is None) if why is None else (why in (problem or ""))
    assert Reach.of(True).address_error("127.0.0.1") is None  # tests, the embedded default
    with pytest.raises(ValueError):
        Reach.of(False, ("not-a-network",))
    assert why is None or why in (
        url_error(
            f"https://[{address}]/cb" if ":" in address else f"https://{address}/cb", reach=reach
        )
        or ""
    )


def test_a_host_is_checked_at_every_attempt_by_what_it_resolves_to():
    from services.intake.delivery import Unreachable, guarded

    sent = []

    def post(url, body, headers, timeout):
        sent.append(url)
        return 204

    refusing = guarded(Reach.of(False), post)
    with pytest.raises(Unreachable, match="loopback"):
        refusing("https://localhost:8443/cb", b"{}", {}, 1.0)
    assert sent == []
    allowing = guarded(Reach.of(True), post)
    assert allowing("http://localhost:8443/cb", b"{}", {}, 1.0) == 204
    assert sent == ["http://localhost:8443/cb"]


@pytest.mark.parametrize(
    ("url", "why"),
    [
        ("http://district.example.gov.cn/cb", "https"),
        ("http://127.0.0.1:8080/cb", "https"),  # loopback too, unless allowed
        ("ftp://district.example/cb", "https"),
        ("district.example/cb", "https"),
        ("https:///cb", "https"),
        ("https://user:pw@district.example/cb", "credentials"),
        ("https://district.example/cb#x", "fragment"),
        ("https://district.example:99999/cb", "not a URL"),
        ("https://d.example/" + "x" * 2000, "2000"),
    ],
)
def test_anything_else_is_refused_with_the_reason(url, why):
    assert why in (url_error(url) or "")


def test_plain_http_to_a_loopback_address_only_where_allowed():
    for url in ("http://127.0.0.1:8080/cb", "http://localhost/cb", "http://[::1]:9/cb"):
        assert url_error(url, loopback_http=True) is None
        assert url_error(url, loopback_http=False) is not None
    assert url_error("http://10.0.0.1/cb", loopback_http=True) is not None
    assert "private" in url_error("https://10.0.0.1/cb")  # not listed: refused


# -- the example receiver -----------------------------------------------------------------
def test_the_example_receiver_accepts_a_genuine_fresh_callback():
    r = receiver()
    body = json.dumps({"event_id": "e1", "event_type": "demand.status_changed"}).encode()
    secret = new_secret()
    headers = signed_headers(secret, "e1", 1_800_000_000, body)
    assert r.verify(secret, headers, body, now=1_800_000_000 + 299)["event_id"] == "e1"
    assert r.verify(
        SPEC_SECRET,
        signed_headers(SPEC_SECRET, SPEC_ID, SPEC_TS, SPEC_BODY),
        SPEC_BODY,
        now=SPEC_TS,
    ) == {"test": 2432232314}


def test_the_example_receiver_refuses_forgeries_tampering_and_replays():
    r = receiver()
    body, secret, ts = b'{"event_id": "e1"}', new_secret(), 1_800_000_000
    headers = signed_headers(secret, "e1", ts, body)
    with pytest.raises(r.Refused, match="signature"):
        r.verify(new_secret(), headers, body, now=ts)  # another key's secret
    with pytest.raises(r.Refused, match="signature"):
        r.verify(secret, headers, b'{"event_id": "e2"}', now=ts)  # the body changed
    with pytest.raises(r.Refused, match="signature"):
        r.verify(secret, {**headers, "webhook-id": "e2"}, body, now=ts)
    with pytest.raises(r.Refused, match="window"):
        r.verify(secret, headers, body, now=ts + 301)  # replayed six minutes later
    with pytest.raises(r.Refused, match="window"):
        r.verify(secret, headers, body, now=ts - 301)
    with pytest.raises(r.Refused, match="missing"):
        r.verify(secret, {"webhook-id": "e1"}, body, now=ts)
