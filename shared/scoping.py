"""Jurisdiction checks every service's use cases share (subtree scoping)."""

from __future__ import annotations

from datetime import date
from typing import Any

from sqlalchemy import select

from shared.auth import Directory, Principal
from shared.errors import ApiError
from shared.events import jurisdiction_path


def filing_jurisdiction(
    directory: Directory, principal: Principal, jurisdiction: str | None, what: str
) -> str:
    """The jurisdiction a record is filed in: the key's by default; 403 outside the
    key's subtree, 422 for a code the directory does not know."""
    code = jurisdiction or principal.jurisdiction
    if not principal.can_see(code):
        raise ApiError(
            403,
            f"Your key is bound to {principal.jurisdiction}; it cannot file {what} in {code}.",
            fields={"json": {"jurisdiction": ["outside your jurisdiction"]}},
        )
    if directory.jurisdiction(code) is None:
        raise ApiError(
            422,
            "Unknown jurisdiction.",
            fields={"json": {"jurisdiction": [f"{code} is not a known division"]}},
        )
    return code


def query_root(principal: Principal, jurisdiction: str | None) -> str:
    """The subtree a list query covers: the key's, or a part of it (403 otherwise)."""
    root = jurisdiction or principal.jurisdiction
    if not principal.can_see(root):
        raise ApiError(
            403,
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
        raise ApiError(403, f"Jurisdiction {jurisdiction} is outside your subtree.")


def require_visible(principal: Principal, jurisdiction: str) -> None:
    """403 unless ``jurisdiction`` is the key's own or below it."""
    if not principal.can_see(jurisdiction):
        raise ApiError(403, f"Jurisdiction {jurisdiction} is outside your subtree.")


def version_in_force(session: Any, table: Any, jurisdiction: str, on: date) -> Any | None:
    """The row of a versioned rule table (``jurisdiction``, ``version``,
    ``effective_from``) in force for ``jurisdiction`` on ``on``: the nearest jurisdiction
    on its path with a version in effect, its latest by effective date then version;
    None when no jurisdiction on the path has one (the defaults apply)."""
    path = jurisdiction_path(jurisdiction)
    rows = session.execute(
        select(table)
        .where(table.c.jurisdiction.in_(path), table.c.effective_from <= on)
        .order_by(table.c.effective_from.desc(), table.c.version.desc())
    ).all()
    for code in reversed(path):
        for row in rows:
            if row.jurisdiction == code:
                return row
    return None
