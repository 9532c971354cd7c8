"""Jurisdiction checks every service's use cases share (subtree scoping)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import ColumnElement, and_

from shared.auth import Principal
from shared.directory import LocalDirectory
from shared.events import jurisdiction_path
from shared.usecases import Forbidden, Invalid


def filing_jurisdiction(
    directory: LocalDirectory, principal: Principal, jurisdiction: str | None, what: str
) -> str:
    """The jurisdiction a record is filed in: the key's by default; 403 outside the
    key's subtree, 422 for a code the directory does not know."""
    code = jurisdiction or principal.jurisdiction
    if not principal.can_see(code):
        raise Forbidden(
            f"Your key is bound to {principal.jurisdiction}; it cannot file {what} in {code}.",
            fields={"json": {"jurisdiction": ["outside your jurisdiction"]}},
        )
    unit = directory.jurisdiction(code)
    if unit is None:
        raise Invalid(
            "Unknown jurisdiction.",
            fields={"json": {"jurisdiction": [f"{code} is not a known division"]}},
        )
    if unit["retired"]:
        successor = f"; its successor is {unit['successor']}" if unit["successor"] else ""
        raise Invalid(
            "Retired jurisdiction.",
            fields={"json": {"jurisdiction": [f"{code} is retired{successor}"]}},
        )
    return code


def query_root(principal: Principal, jurisdiction: str | None) -> str:
    """The subtree a list query covers: the key's, or a part of it (403 otherwise)."""
    root = jurisdiction or principal.jurisdiction
    if not principal.can_see(root):
        raise Forbidden(
            f"{root} is outside your jurisdiction.",
            fields={"query": {"jurisdiction": ["outside your jurisdiction"]}},
        )
    return root


def require_rules_readable(principal: Principal, jurisdiction: str) -> None:
    """Rules are read where they apply: a key reads the rules of its own subtree and of
    the jurisdictions above it (whose rules it inherits); 403 for a sibling's."""
    try:
        above = jurisdiction in jurisdiction_path(principal.jurisdiction)
    except ValueError:
        above = False
    if not (above or principal.can_see(jurisdiction)):
        raise Forbidden(f"Jurisdiction {jurisdiction} is outside your subtree.")


def require_visible(principal: Principal, jurisdiction: str) -> None:
    """403 unless ``jurisdiction`` is the key's own or below it."""
    if not principal.can_see(jurisdiction):
        raise Forbidden(f"Jurisdiction {jurisdiction} is outside your subtree.")


def under(column: Any, prefix: str) -> ColumnElement[bool]:
    """``column`` starts with ``prefix`` (``shared.events.subtree_prefix``), as a range a
    plain index answers on SQLite and PostgreSQL whatever the collation — unlike ``LIKE``
    with a bound pattern. Unit codes are printable ASCII, all below ``~``."""
    return and_(column >= prefix, column < prefix + "~")
