"""The unit tree: read it, open a unit below one's own, rename, move, retire, reopen.

Every change is stored in ``jurisdiction_changes`` (never deleted) and announced as a
``jurisdiction.*`` event carrying the unit whole, so every service's copy follows. A
retired unit keeps its code, its history and everything filed under it; it takes no new
filings (``shared.scoping.filing_jurisdiction``).

Who may: any caller reads the tree (administrative divisions are public); an
administrator opens, renames and retires units strictly below its own unit; a province's
administrator imports the official divisions (``services.directory.imports``).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from services.directory.models import jurisdiction_changes, jurisdictions
from shared.auth import Principal
from shared.contracts import directory as contract
from shared.db import UnitOfWork
from shared.directory import unit_of
from shared.events import Contract, jurisdiction_path, subtree_prefix
from shared.usecases import Conflict, Forbidden, Invalid, NotFound

# a unit the platform codes, by kind: its letter, and the levels it may sit below
PLATFORM_KINDS = {
    "park": ("P", ("prefecture", "county", "township")),
    "station": ("S", ("province", "prefecture", "county", "township", "park")),
    "workstation": ("W", ("park", "station")),
}
EVENT_OF: dict[str, Contract] = {
    "opened": contract.jurisdiction_opened,
    "renamed": contract.jurisdiction_renamed,
    "moved": contract.jurisdiction_moved,
    "retired": contract.jurisdiction_retired,
    "reopened": contract.jurisdiction_reopened,
}


@dataclass(frozen=True)
class UnitChange:
    """One change of one unit, as it is stored and announced."""

    kind: str
    code: str
    name: str
    level: str
    parent: str | None
    source: str
    reason: str
    old_name: str | None = None
    old_parent: str | None = None
    successor: str | None = None


def require_admin_above(actor: Principal, code: str) -> None:
    """An administrator of a unit strictly above ``code``."""
    if actor.role != "admin":
        raise Forbidden("Units are opened and changed by administrators.")
    if code == actor.jurisdiction or not actor.can_see(code):
        raise Forbidden(f"{code} is not below your unit {actor.jurisdiction}.")


def record(s: Session, change: UnitChange, actor: str, at: datetime) -> Any:
    """Store ``change`` (the unit's row and the change's record); the event to announce."""
    t = jurisdictions
    retired_at = at if change.kind == "retired" else None
    values = {
        "name": change.name,
        "parent": change.parent,
        "level": change.level,
        "source": change.source,
        "retired_at": retired_at,
        "successor": change.successor if change.kind == "retired" else None,
        "changed_at": at,
    }
    if change.kind == "opened":
        s.execute(t.insert().values(code=change.code, **values))
    else:
        s.execute(update(t).where(t.c.code == change.code).values(**values))
    s.execute(
        jurisdiction_changes.insert().values(
            code=change.code,
            kind=change.kind,
            name=change.name,
            old_name=change.old_name,
            parent=change.parent,
            old_parent=change.old_parent,
            successor=change.successor,
            reason=change.reason,
            actor=actor,
            at=at,
        )
    )
    return EVENT_OF[change.kind](
        jurisdiction=change.code,
        payload={
            "code": change.code,
            "name": change.name,
            "parent": change.parent,
            "level": change.level,
            "source": change.source,
            "retired_at": retired_at.isoformat() if retired_at else None,
            "successor": values["successor"],
            "change": {
                "kind": change.kind,
                "reason": change.reason,
                "old_name": change.old_name,
                "old_parent": change.old_parent,
            },
            "actor": actor,
            "at": at.isoformat(),
        },
    )


def _row(s: Session, code: str) -> Any:
    return s.execute(select(jurisdictions).where(jurisdictions.c.code == code)).mappings().first()


def get_unit(uow: UnitOfWork, actor: Principal | None, code: str) -> dict[str, Any]:
    """A unit with its path, its children and its changes."""
    with uow.read() as s:
        row = _row(s, code)
        if row is None:
            raise NotFound(f"No unit {code}.")
        children = s.execute(
            select(jurisdictions).where(jurisdictions.c.parent == code).order_by("code")
        ).mappings()
        changes = s.execute(
            select(jurisdiction_changes)
            .where(jurisdiction_changes.c.code == code)
            .order_by(jurisdiction_changes.c.id)
        ).mappings()
        return {
            **unit_of(row),
            "path": jurisdiction_path(code),
            "children": [unit_of(c) for c in children],
            "changes": [_change(c) for c in changes],
        }


def _change(c: Any) -> dict[str, Any]:
    keys = ("kind", "name", "old_name", "parent", "old_parent", "successor", "reason", "actor")
    return {**{k: c[k] for k in keys}, "at": c["at"]}


def list_units(uow: UnitOfWork, actor: Principal, query: dict[str, Any]) -> dict[str, Any]:
    """Units by parent, level or name (``q``), retired ones only when asked."""
    t = jurisdictions
    stmt = select(t).order_by(t.c.code).limit(query.get("limit", 200))
    if query.get("parent"):
        stmt = stmt.where(t.c.parent == query["parent"])
    if query.get("level"):
        stmt = stmt.where(t.c.level == query["level"])
    if query.get("q"):
        stmt = stmt.where(t.c.name.contains(query["q"], autoescape=True))
    if query.get("within"):
        stmt = stmt.where(t.c.code.startswith(subtree_prefix(query["within"])))
    if not query.get("include_retired"):
        stmt = stmt.where(t.c.retired_at.is_(None))
    with uow.read() as s:
        rows = [unit_of(r) for r in s.execute(stmt).mappings()]
    if query.get("within"):
        rows = [r for r in rows if query["within"] in jurisdiction_path(r["code"])]
    return {"items": rows}


def next_code(s: Session, parent: str, letter: str) -> str:
    """The next platform code below ``parent`` for one kind (``630102-P0003``)."""
    prefix = f"{parent}-{letter}"
    taken = s.execute(
        select(func.max(jurisdictions.c.code)).where(
            jurisdictions.c.code.startswith(prefix),
            func.length(jurisdictions.c.code) == len(prefix) + 4,
        )
    ).scalar()
    number = int(taken[-4:]) + 1 if taken else 1
    if number > 9999:
        raise Conflict(f"{parent} has no more {letter} codes.")
    return f"{prefix}{number:04d}"


def open_unit(
    uow: UnitOfWork,
    actor: Principal | None,
    command: dict[str, Any],
    *,
    correlation_id: str | None = None,
) -> dict[str, Any]:
    """Open a unit below one's own: a township with its national code, or a park, a
    service station or a park work station, which the platform codes. ``actor`` None is
    the platform's operator (the CLI, the demo seed)."""
    parent_code, kind, name = command["parent"], command["kind"], command["name"].strip()
    if actor is not None and (actor.role != "admin" or not actor.can_see(parent_code)):
        raise Forbidden(f"Units below {parent_code} are opened by its administrators.")
    who, by = (actor.key_id, actor.name) if actor else ("operator", "the operator")
    now = datetime.now(UTC)
    with uow:
        s = uow.session
        parent = _row(s, parent_code)
        if parent is None or parent["retired_at"] is not None:
            raise Invalid.field("parent", f"{parent_code} is not an open unit")
        code, source = _new_code(s, parent, kind, command.get("code"))
        change = UnitChange("opened", code, name, kind, parent_code, source, f"opened by {by}")
        event = record(s, change, who, now)
        uow.emit(_with_cid(event, correlation_id) if correlation_id else event)
        uow.commit()
    return get_unit(uow, actor, code)


def _new_code(s: Session, parent: Any, kind: str, given: str | None) -> tuple[str, str]:
    if kind == "township":
        if parent["level"] != "county":
            raise Invalid.field("parent", "a township lies in a county")
        if not given or len(given) != 9 or not given.isdigit() or given[:6] != parent["code"]:
            raise Invalid.field("code", f"a township's national code: {parent['code']} + 3 digits")
        if _row(s, given) is not None:
            raise Conflict(f"Unit {given} exists.", fields={"json": {"code": ["taken"]}})
        return given, "nbs"
    letter, below = PLATFORM_KINDS[kind]
    if parent["level"] not in below:
        raise Invalid.field("parent", f"a {kind} lies in a {' or '.join(below)}")
    if given:
        raise Invalid.field("code", f"the platform codes a {kind}")
    return next_code(s, parent["code"], letter), "platform"


def _with_cid(event: Any, correlation_id: str) -> Any:
    from dataclasses import replace

    return replace(event, correlation_id=correlation_id)


def change_unit(
    uow: UnitOfWork,
    actor: Principal,
    code: str,
    command: dict[str, Any],
    *,
    correlation_id: str | None = None,
) -> dict[str, Any]:
    """Rename (``name``), retire (``retire`` with an optional ``successor``) or reopen
    (``reopen``) a unit below one's own; one change per call."""
    require_admin_above(actor, code)
    now = datetime.now(UTC)
    with uow:
        s = uow.session
        row = _row(s, code)
        if row is None:
            raise NotFound(f"No unit {code}.")
        change = _change_of(s, row, command, actor)
        event = record(s, change, actor.key_id, now)
        uow.emit(_with_cid(event, correlation_id) if correlation_id else event)
        uow.commit()
    return get_unit(uow, actor, code)


def _change_of(s: Session, row: Any, command: dict[str, Any], actor: Principal) -> UnitChange:
    base = {
        "code": row["code"],
        "name": row["name"],
        "level": row["level"],
        "parent": row["parent"],
        "source": row["source"],
    }
    note = command.get("reason") or f"by {actor.name}"
    if command.get("reopen"):
        if row["retired_at"] is None:
            raise Conflict(f"{row['code']} is open.")
        return UnitChange("reopened", **base, reason=note)
    if row["retired_at"] is not None:
        raise Conflict(f"{row['code']} is retired; reopen it first.")
    if command.get("retire"):
        successor = command.get("successor")
        if successor is not None:
            target = _row(s, successor)
            if target is None or target["retired_at"] is not None or successor == row["code"]:
                raise Invalid.field("successor", f"{successor} is not an open unit")
        return UnitChange("retired", **base, reason=note, successor=successor)
    name = (command.get("name") or "").strip()
    if not name or name == row["name"]:
        raise Invalid.field("name", "a new name, or retire, or reopen")
    return UnitChange("renamed", **{**base, "name": name}, reason=note, old_name=row["name"])
