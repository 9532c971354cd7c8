"""The second factor: time-based one-time passwords (TOTP, RFC 6238) with pyotp.

What authenticator apps expect: HMAC-SHA1, 6 digits, 30-second steps. GB/T 22239-2019
(等保 2.0) level 3 asks for two factors (8.1.4.1 d, "两种或两种以上组合的鉴别技术"); the
directory requires this one for administrator roles.

* A code is accepted for its own step or one step either side (``VALID_WINDOW``: a phone's
  clock a little off, a code typed as it changes), so one code is good for up to 90 seconds.
* No code is accepted twice: ``check`` returns the time step it accepted, the caller keeps it,
  and a code whose step is not after the kept one is refused (pyotp does not track this).
* Anything but exactly 6 ASCII digits is refused before any HMAC is computed.
"""

from __future__ import annotations

import hmac
import re
from datetime import datetime

import pyotp

DIGITS = 6
STEP_SECONDS = 30
VALID_WINDOW = 1  # steps accepted either side of the current one
ISSUER = "onestop"
_CODE = re.compile(r"[0-9]{6}")


def new_secret() -> str:
    """A fresh shared secret: 32 base32 characters (160 bits, RFC 4226's recommendation)."""
    return pyotp.random_base32()


def provisioning_uri(secret: str, account: str, issuer: str = ISSUER) -> str:
    """The ``otpauth://totp/…`` URI an authenticator app reads from a QR code."""
    return pyotp.TOTP(secret).provisioning_uri(name=account, issuer_name=issuer)


def step_of(now: datetime) -> int:
    """The time step ``now`` falls in (RFC 6238's T: whole 30-second periods since 1970)."""
    if now.tzinfo is None or now.utcoffset() is None:
        raise ValueError("now must be timezone-aware")
    return int(now.timestamp()) // STEP_SECONDS


def code_at(secret: str, now: datetime) -> str:
    """The code an authenticator shows at ``now`` (for the demo and the tests)."""
    return pyotp.TOTP(secret).generate_otp(step_of(now))


def check(secret: str, code: str, now: datetime, last_step: int | None) -> int | None:
    """The time step ``code`` belongs to, if it is valid at ``now`` and newer than
    ``last_step`` (the step of the last code accepted for this account); else None.

    When a code matches more than one step of the window (a one-in-a-million coincidence)
    the latest is returned, which refuses more codes later rather than fewer."""
    if not isinstance(code, str) or not _CODE.fullmatch(code):
        return None
    totp = pyotp.TOTP(secret)
    current = step_of(now)
    accepted = None
    for step in range(current - VALID_WINDOW, current + VALID_WINDOW + 1):
        if last_step is not None and step <= last_step:
            continue
        if hmac.compare_digest(totp.generate_otp(step), code):
            accepted = step
    return accepted
