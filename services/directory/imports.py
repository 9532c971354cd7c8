"""Importing the official administrative divisions: ``onestop directory import-divisions``
and ``POST /directory/api/v1/divisions/import``.

The file (the vendored ``data/divisions.csv`` by default, or one the administrator
supplies in the same columns) is checked whole first — any problem and nothing is written.
Then the pure plan (``services.directory.divisions.plan_import``) turns it into changes:
opened, renamed, moved, reopened, retired (with the successor the history names), each
stored, recorded and announced like any other change of the tree. Importing the same file
again changes nothing.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import select

from services.directory.divisions import (
    DATA_DIR,
    NATIONAL,
    Change,
    Unit,
    outside_parents,
    plan_import,
    read_changes,
    read_divisions,
    summary,
)
from services.directory.models import jurisdictions
from services.directory.units import UnitChange, record
from shared.auth import Principal
from shared.db import UnitOfWork
from shared.usecases import Forbidden, Invalid

DIVISIONS = DATA_DIR / "divisions.csv"
TOWNSHIPS = DATA_DIR / "townships.csv"
HISTORY = DATA_DIR / "changes.csv"
SOURCE_OF = {"province": "gb2260", "prefecture": "gb2260", "county": "gb2260", "township": "mca"}


def province_rows(path: Path, province: str) -> str:
    """The lines of a vendored file that lie in one province (the demo loads one)."""
    lines = path.read_text(encoding="utf-8").splitlines()
    return "\n".join([lines[0], *(ln for ln in lines[1:] if ln.startswith(province[:2]))])


def import_divisions(
    uow: UnitOfWork,
    actor: Principal | None,
    text: str,
    *,
    history: str | None = None,
    correlation_id: str | None = None,
) -> dict[str, Any]:
    """Bring the tree in line with a division file (``actor`` None: the operator)."""
    if actor is not None and not actor.is_province_admin:
        raise Forbidden("The official divisions are imported by a province's administrators.")
    divisions, problems = read_divisions(text)
    if problems:
        raise Invalid(
            f"The file has {len(problems)} bad lines; nothing was imported.",
            fields={"file": {f"line {n}": msgs for n, msgs in sorted(problems.items())[:50]}},
        )
    if actor is not None and any(not actor.can_see(d.code) for d in divisions):
        raise Forbidden(f"The file has units outside {actor.jurisdiction}.")
    successors = read_changes(history if history is not None else HISTORY.read_text("utf-8"))
    now = datetime.now(UTC)
    who = actor.key_id if actor else "operator"
    with uow:
        s = uow.session
        current = {
            r.code: Unit(r.code, r.name, r.level, r.parent, r.retired_at is not None)
            for r in s.execute(select(jurisdictions).where(jurisdictions.c.level.in_(NATIONAL)))
        }
        unknown = sorted(
            outside_parents(divisions) - {c for c, u in current.items() if not u.retired}
        )
        if unknown:
            raise Invalid(
                "The file names parents the directory does not have; nothing was imported.",
                fields={"file": {"parent": [f"unknown or retired: {', '.join(unknown[:20])}"]}},
            )
        plan = plan_import(current, divisions, successors)
        for change in plan:
            event = record(s, unit_change(change), who, now)
            uow.emit(event if correlation_id is None else _cid(event, correlation_id))
        uow.commit()
    return {"rows": len(divisions), "changes": summary(plan)}


def unit_change(change: Change) -> UnitChange:
    return UnitChange(
        kind=change.kind,
        code=change.code,
        name=change.name,
        level=change.level,
        parent=change.parent,
        source=SOURCE_OF[change.level],
        reason=change.reason,
        old_name=change.old_name,
        old_parent=change.old_parent,
        successor=change.successor,
    )


def _cid(event: Any, correlation_id: str) -> Any:
    from dataclasses import replace

    return replace(event, correlation_id=correlation_id)
