"""Opaque keyset cursors for list endpoints: stable under inserts, O(1) per page."""

from __future__ import annotations

import base64
import json
from collections.abc import Callable
from typing import Any

from marshmallow import ValidationError


def encode_cursor(key: list[Any]) -> str:
    raw = json.dumps(key, separators=(",", ":"), ensure_ascii=False, default=str).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str, length: int) -> list[Any]:
    """The key of the last item of the previous page; a 422 for anything else."""
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        key = json.loads(base64.urlsafe_b64decode(padded.encode()))
    except (ValueError, UnicodeDecodeError):
        key = None
    if not isinstance(key, list) or len(key) != length:
        raise ValidationError({"cursor": ["not a cursor this list gave out"]})
    return key


def cursor_key(
    cursor: str | None, length: int, parse: Callable[[list[Any]], list[Any]] | None = None
) -> list[Any] | None:
    """The decoded ``cursor`` query parameter, None for the first page, a 422 otherwise.
    ``parse`` turns the key into typed values; its ValueError or TypeError is a 422 too."""
    if not cursor:
        return None
    from shared.errors import invalid

    try:
        key = decode_cursor(cursor, length)
        return parse(key) if parse is not None else key
    except (ValidationError, ValueError, TypeError):
        raise invalid("query", "cursor", "not a cursor this list gave out") from None
