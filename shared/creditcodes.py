"""Unified social credit codes (统一社会信用代码, GB 32100-2015): what every service that
names an enterprise checks. Pure Python."""

from __future__ import annotations

import re

# GB 32100-2015: 31 characters (no I, O, Z, S, V) and the weights of positions 1-17.
CREDIT_CHARSET = "0123456789ABCDEFGHJKLMNPQRTUWXY"
CREDIT_WEIGHTS = (1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28)
CREDIT_RE = re.compile(rf"^[{CREDIT_CHARSET}]{{18}}$")


def credit_check_char(first17: str) -> str:
    """The GB 32100-2015 check character for the first 17 characters."""
    total = sum(CREDIT_CHARSET.index(c) * w for c, w in zip(first17, CREDIT_WEIGHTS, strict=True))
    return CREDIT_CHARSET[(31 - total % 31) % 31]


def credit_code_error(code: str) -> str | None:
    """Why ``code`` is not a valid unified social credit code, or None."""
    if len(code) != 18:
        return f"must be 18 characters, got {len(code)}"
    if not CREDIT_RE.match(code):
        return "may contain only digits and capital letters other than I, O, S, V, Z"
    expected = credit_check_char(code[:17])
    if code[17] != expected:
        return f"check character is {code[17]!r} but GB 32100-2015 gives {expected!r}"
    return None
