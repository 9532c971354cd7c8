"""Intake use cases of the enterprise registry (创新主体信息库): register, update,
read, list, bulk import of the 科技体检 survey sheet, and the demo's seed."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from marshmallow import ValidationError
from sqlalchemy import insert, select, update
from sqlalchemy.orm import Session

from services.intake.domain import coverage_flags
from services.intake.models import enterprises
from services.intake.schemas import EnterpriseProfileIn
from services.intake.sheets import read_sheet
from shared.auth import Principal
from shared.contracts.intake import enterprise_registered, enterprise_updated
from shared.db import UnitOfWork, insert_or_ignore
from shared.directory import LocalDirectory
from shared.events import Contract, subtree_prefix
from shared.pagination import cursor_key, encode_cursor
from shared.scoping import filing_jurisdiction, query_root
from shared.usecases import Conflict, Forbidden, NotFound

t = enterprises
PROFILE = (
    "name",
    "technology_field",
    "revenue",
    "rd_spend",
    "has_rd_activity",
    "has_rd_institution",
    "invention_patents",
    "utility_patents",
    "software_copyrights",
    "growth_tier",
    "is_key",
)
EVENT_FIELDS = (
    "credit_code",
    "name",
    "jurisdiction",
    "technology_field",
    "growth_tier",
    "is_key",
    "needs_named_person",
    "needs_one_plan",
    "revenue",
    "has_rd_activity",
    "has_rd_institution",
)


def _with_flags(profile: dict[str, Any]) -> dict[str, Any]:
    flags = coverage_flags(
        profile.get("revenue"), profile.get("has_rd_activity"), profile.get("has_rd_institution")
    )
    return {
        **profile,
        "needs_named_person": flags.needs_named_person,
        "needs_one_plan": flags.needs_one_plan,
    }


def bare_registration(credit_code: str, name: str, jurisdiction: str) -> dict[str, Any]:
    """The ``enterprise.registered`` payload of an enterprise known by its name only
    (registered by its first demand, or seeded): no profile, no coverage flags."""
    return {
        "credit_code": credit_code,
        "name": name,
        "jurisdiction": jurisdiction,
        "is_key": False,
        "needs_named_person": False,
        "needs_one_plan": False,
    }


def _emit(uow: UnitOfWork, event: Contract, row: dict[str, Any], cid: str) -> None:
    uow.emit(
        event(
            jurisdiction=row["jurisdiction"],
            payload={k: row.get(k) for k in EVENT_FIELDS},
            correlation_id=cid,
        )
    )


def _upsert(uow: UnitOfWork, data: dict[str, Any], cid: str, *, create_only: bool) -> str:
    """Register or update one enterprise; 'registered', 'updated' or 'unchanged'.

    Only the fields present in ``data`` change an existing profile (a sheet without
    a revenue column leaves the revenue as it was)."""
    now = datetime.now(UTC)
    q = select(t).where(t.c.credit_code == data["credit_code"])
    if uow.db.is_postgres:  # concurrent changes of one profile queue up; flags stay true
        q = q.with_for_update()
    existing = uow.session.execute(q).mappings().first()
    given = {k: data[k] for k in PROFILE if k in data}
    base = (
        {k: None for k in PROFILE} | {"is_key": False}
        if existing is None
        else {k: existing[k] for k in PROFILE}
    )
    profile = _with_flags(base | given)
    if existing is None:
        row = {
            "credit_code": data["credit_code"],
            "jurisdiction": data["jurisdiction"],
            "created_at": now,
            **profile,
        }
        inserted = uow.session.execute(
            insert_or_ignore(uow.db, t).values(**row).returning(t.c.credit_code)
        ).first()
        if inserted is None:  # a concurrent registration of the same code won
            raise Conflict(
                f"Enterprise {data['credit_code']} was registered meanwhile; retry to update it.",
                code="conflict",
            )
        _emit(uow, enterprise_registered, row, cid)
        return "registered"
    if create_only:
        raise Conflict(
            f"Enterprise {data['credit_code']} is already registered; "
            "PATCH it to change its profile.",
            code="conflict",
        )
    if existing["jurisdiction"] != data["jurisdiction"]:
        raise ValueError(f"registered in {existing['jurisdiction']}, not {data['jurisdiction']}")
    changes = {k: v for k, v in profile.items() if existing[k] != v}
    if not changes:
        return "unchanged"
    uow.session.execute(
        update(t).where(t.c.credit_code == data["credit_code"]).values(**changes, updated_at=now)
    )
    _emit(uow, enterprise_updated, {**dict(existing), **changes}, cid)
    return "updated"


def register(
    uow: UnitOfWork, actor: Principal, command: dict[str, Any], *, correlation_id: str
) -> dict[str, Any]:
    """Register an enterprise; a known credit code is a Conflict."""
    jurisdiction = filing_jurisdiction(
        uow.directory, actor, command.get("jurisdiction"), "enterprises"
    )
    data = {**command, "jurisdiction": jurisdiction}
    with uow:
        _upsert(uow, data, correlation_id, create_only=True)
        uow.commit()
    return get(uow, actor, data["credit_code"])


def patch(
    uow: UnitOfWork,
    actor: Principal,
    credit_code: str,
    changes: dict[str, Any],
    *,
    correlation_id: str,
) -> dict[str, Any]:
    """Change the fields sent; the flags follow."""
    with uow:
        current = _load(uow.session, actor, credit_code)
        # only the fields sent: _upsert merges them onto the row it locks
        merged = {**changes, "credit_code": credit_code, "jurisdiction": current["jurisdiction"]}
        _upsert(uow, merged, correlation_id, create_only=False)
        uow.commit()
    return get(uow, actor, credit_code)


def _load(session: Session, actor: Principal, code: str) -> dict[str, Any]:
    row = session.execute(select(t).where(t.c.credit_code == code)).mappings().first()
    if row is None:
        raise NotFound(f"No enterprise {code} is registered.")
    if not actor.can_see(row["jurisdiction"]):
        # credit codes are public (national registry): saying it is elsewhere leaks nothing
        raise Forbidden(
            f"Enterprise {code} is registered in {row['jurisdiction']}, outside your jurisdiction."
        )
    return dict(row)


def get(uow: UnitOfWork, actor: Principal, credit_code: str) -> dict[str, Any]:
    with uow.read() as s:
        return _load(s, actor, credit_code)


def search(uow: UnitOfWork, actor: Principal, args: dict[str, Any]) -> dict[str, Any]:
    """Enterprises in the subtree, by credit code, a page at a time."""
    root = query_root(actor, args.get("jurisdiction"))
    q = select(t).where(t.c.jurisdiction.startswith(subtree_prefix(root)))
    for name in (
        "growth_tier",
        "technology_field",
        "is_key",
        "needs_named_person",
        "needs_one_plan",
    ):
        if name in args:
            q = q.where(t.c[name] == args[name])
    if args.get("name"):
        q = q.where(t.c.name.contains(args["name"], autoescape=True))
    key = cursor_key(args.get("cursor"), 1)
    if key is not None:
        q = q.where(t.c.credit_code > str(key[0]))
    limit = args["limit"]
    with uow.read() as s:
        rows = [dict(r) for r in s.execute(q.order_by(t.c.credit_code).limit(limit + 1)).mappings()]
    more = len(rows) > limit
    items = rows[:limit]
    return {
        "items": items,
        "next_cursor": encode_cursor([items[-1]["credit_code"]]) if more else None,
    }


@dataclass(frozen=True)
class Sheet:
    """An uploaded survey sheet: its file name (.csv or .xlsx) and its bytes."""

    filename: str
    content: bytes


def rejected_row(number: int, credit_code: Any, errors: Any) -> dict[str, Any]:
    """A sheet row refused: its number, its credit code (when it has one), why."""
    return {"row": number, "credit_code": credit_code, "errors": errors}


def _row_problem(
    row: dict[str, Any], actor: Principal, directory: LocalDirectory, seen: dict[str, int]
) -> dict[str, list[str]] | None:
    """Why a well-formed row cannot be imported by ``actor``, or None."""
    if not actor.can_see(row["jurisdiction"]):
        return {"jurisdiction": ["outside your jurisdiction"]}
    if directory.jurisdiction(row["jurisdiction"]) is None:
        return {"jurisdiction": ["not a known division"]}
    if row["credit_code"] in seen:
        return {"credit_code": [f"repeats row {seen[row['credit_code']]}"]}
    return None


def screen_rows(
    records: Iterable[tuple[int, dict[str, Any]]],
    actor: Principal,
    directory: LocalDirectory,
    report: dict[str, Any],
) -> list[tuple[int, dict[str, Any]]]:
    """The rows to import, by number; every other row goes to ``report["rejected"]``
    with its reasons (and every row is counted in ``report["rows"]``)."""
    schema = EnterpriseProfileIn()
    valid: list[tuple[int, dict[str, Any]]] = []
    seen: dict[str, int] = {}
    for number, record in records:
        report["rows"] += 1
        nul = [k for k, v in record.items() if isinstance(v, str) and "\x00" in v]
        if nul:
            errors = {k: ["contains a NUL character"] for k in nul}
            report["rejected"].append(rejected_row(number, None, errors))
            continue
        try:
            # fields of columns the sheet has (no defaults for the others)
            row = {k: v for k, v in schema.load(record).items() if k in record}
        except ValidationError as exc:
            report["rejected"].append(rejected_row(number, record.get("credit_code"), exc.messages))
            continue
        row["jurisdiction"] = row.get("jurisdiction") or actor.jurisdiction
        problem = _row_problem(row, actor, directory, seen)
        if problem:
            report["rejected"].append(rejected_row(number, row["credit_code"], problem))
            continue
        seen[row["credit_code"]] = number
        valid.append((number, row))
    return valid


def import_sheet(
    uow: UnitOfWork, actor: Principal, sheet: Sheet, *, correlation_id: str
) -> dict[str, Any]:
    """Every valid row registered or updated, every invalid row reported by number.

    All accepted rows are written in one transaction (a failure writes none);
    a row is never half-written; importing the same file again changes nothing.
    """
    report: dict[str, Any] = {
        "rows": 0,
        "registered": 0,
        "updated": 0,
        "unchanged": 0,
        "rejected": [],
    }
    valid = screen_rows(read_sheet(sheet.filename, sheet.content), actor, uow.directory, report)
    with uow:
        for number, row in valid:
            try:
                with uow.session.begin_nested():
                    outcome = _upsert(uow, row, correlation_id, create_only=False)
            except (ValueError, Conflict) as exc:  # registered elsewhere, or meanwhile
                field = "jurisdiction" if isinstance(exc, ValueError) else "credit_code"
                report["rejected"].append(
                    rejected_row(number, row["credit_code"], {field: [str(exc)]})
                )
                continue
            report[outcome] += 1
        uow.commit()
    report["rejected"].sort(key=lambda r: r["row"])
    return report


def seed_enterprises(uow: UnitOfWork, rows: list[tuple[str, str, str]]) -> int:
    """Register enterprises that are not yet known (idempotent); returns how many were new."""
    added = 0
    with uow:
        for code, name, jurisdiction in rows:
            exists = uow.session.execute(
                select(t.c.credit_code).where(t.c.credit_code == code)
            ).first()
            if exists is None:
                uow.session.execute(
                    insert(t).values(
                        credit_code=code,
                        name=name,
                        jurisdiction=jurisdiction,
                        created_at=datetime.now(UTC),
                    )
                )
                uow.emit(  # dispatch and visits keep their own copy of the registry
                    enterprise_registered(
                        jurisdiction=jurisdiction,
                        payload=bare_registration(code, name, jurisdiction),
                    )
                )
                added += 1
        uow.commit()
    return added
