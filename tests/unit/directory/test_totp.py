"""The second factor at fixed instants: the window of one step either side, the step
boundaries, replay refused, malformed codes refused before any HMAC."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from urllib.parse import parse_qs, urlparse

import pyotp
import pytest

from services.directory import totp
from services.directory.totp import check, code_at, new_secret, provisioning_uri, step_of

# RFC 6238 appendix B's SHA-1 secret ("12345678901234567890"), in base32.
RFC_SECRET = "GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ"
SECRET = "JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP"
# the first instant of a step: 2026-12-01 09:00:00 UTC is 1796115600 s = step 59870520
T0 = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)
STEP = 59_870_520
S = timedelta(seconds=1)


def code(step: int, secret: str = SECRET) -> str:
    return pyotp.TOTP(secret).generate_otp(step)


def test_the_instant_is_the_start_of_its_step():
    assert step_of(T0) == STEP
    assert step_of(T0 - S) == STEP - 1
    assert step_of(T0 + 29 * S) == STEP
    assert step_of(T0 + 30 * S) == STEP + 1


@pytest.mark.parametrize(
    ("unix", "expected"),
    [(59, "287082"), (1111111109, "081804"), (1234567890, "005924"), (2000000000, "279037")],
)
def test_codes_are_rfc_6238s_for_six_digits(unix, expected):
    now = datetime.fromtimestamp(unix, UTC)
    assert code_at(RFC_SECRET, now) == expected
    assert check(RFC_SECRET, expected, now, None) == unix // 30


def test_the_current_code_is_accepted_with_its_step():
    assert check(SECRET, code(STEP), T0, None) == STEP
    assert check(SECRET, code(STEP), T0 + 29 * S, None) == STEP


def test_one_step_either_side_is_accepted_and_two_are_not():
    assert check(SECRET, code(STEP - 1), T0, None) == STEP - 1
    assert check(SECRET, code(STEP + 1), T0, None) == STEP + 1
    assert check(SECRET, code(STEP - 2), T0, None) is None
    assert check(SECRET, code(STEP + 2), T0, None) is None


def test_at_the_step_boundary_the_window_moves():
    previous = code(STEP - 2)
    assert check(SECRET, previous, T0 - S, None) == STEP - 2  # last second of STEP - 1
    assert check(SECRET, previous, T0, None) is None  # first second of STEP
    upcoming = code(STEP + 2)
    assert check(SECRET, upcoming, T0 + 29 * S, None) is None
    assert check(SECRET, upcoming, T0 + 30 * S, None) == STEP + 2


def test_a_code_is_never_accepted_twice():
    accepted = check(SECRET, code(STEP), T0, None)
    assert accepted == STEP
    assert check(SECRET, code(STEP), T0 + 5 * S, accepted) is None
    assert check(SECRET, code(STEP - 1), T0 + 5 * S, accepted) is None  # older: refused too
    assert check(SECRET, code(STEP + 1), T0 + 30 * S, accepted) == STEP + 1


def test_after_a_code_from_the_future_the_current_one_is_refused():
    """A phone running ahead had its next code accepted: nothing up to it is taken again."""
    assert check(SECRET, code(STEP), T0, STEP + 1) is None
    assert check(SECRET, code(STEP + 2), T0 + 30 * S, STEP + 1) == STEP + 2


def test_another_secret_s_code_is_refused():
    assert code(STEP) == "942457"  # RFC_SECRET's codes around T0: 321309, 691936, 990479
    assert check(RFC_SECRET, code(STEP), T0, None) is None
    assert check(RFC_SECRET, "691936", T0, None) == STEP


@pytest.mark.parametrize(
    "bad",
    ["", "12345", "1234567", " 123456", "123456 ", "12 3456", "12345a", "١٢٣٤٥٦", "１２３４５６"],
)
def test_anything_but_six_ascii_digits_is_refused_without_pyotp(bad, monkeypatch):
    def no_pyotp(*args, **kwargs):
        raise AssertionError("pyotp was called")

    monkeypatch.setattr(totp.pyotp, "TOTP", no_pyotp)
    assert check(SECRET, bad, T0, None) is None


def test_a_code_that_is_not_a_string_is_refused():
    assert check(SECRET, 123456, T0, None) is None  # type: ignore[arg-type]


def test_a_naive_instant_is_a_programming_error():
    with pytest.raises(ValueError, match="timezone-aware"):
        check(SECRET, "123456", datetime(2026, 12, 1, 9, 0), None)


def test_a_new_secret_is_160_bits_of_base32_and_different_each_time():
    a, b = new_secret(), new_secret()
    assert len(a) == 32 and set(a) <= set("ABCDEFGHIJKLMNOPQRSTUVWXYZ234567")
    assert a != b


def test_the_provisioning_uri_is_what_an_authenticator_reads():
    uri = provisioning_uri(SECRET, "admin@630000")
    parsed = urlparse(uri)
    assert (parsed.scheme, parsed.netloc) == ("otpauth", "totp")
    assert parsed.path == "/onestop:admin%40630000"
    assert parse_qs(parsed.query) == {"secret": [SECRET], "issuer": ["onestop"]}
    assert "issuer=Qinghai" in provisioning_uri(SECRET, "x", issuer="Qinghai")
