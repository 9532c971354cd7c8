"""Intake use cases of the enterprise registry (创新主体信息库): register, update,
read, list, and bulk import of the 科技体检 survey sheet."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from marshmallow import ValidationError
from sqlalchemy import select, update

from services.intake.domain import coverage_flags
from services.intake.models import enterprises
from services.intake.schemas import EnterpriseProfileIn
from services.intake.sheets import read_sheet
from shared.auth import Principal
from shared.contracts.intake import enterprise_registered, enterprise_updated
from shared.db import UnitOfWork, insert_or_ignore
from shared.errors import ApiError
from shared.events import Contract, subtree_prefix
from shared.pagination import cursor_key, encode_cursor
from shared.runtime import Service
from shared.scoping import filing_jurisdiction, query_root

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


def _emit(svc: Service, uow: UnitOfWork, event: Contract, row: dict[str, Any], cid: str) -> None:
    uow.emit(
        event(
            jurisdiction=row["jurisdiction"],
            payload={k: row.get(k) for k in EVENT_FIELDS},
            correlation_id=cid,
        )
    )


def _upsert(
    svc: Service, uow: UnitOfWork, data: dict[str, Any], cid: str, *, create_only: bool
) -> str:
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
            raise ApiError(
                409,
                f"Enterprise {data['credit_code']} was registered meanwhile; retry to update it.",
                code="conflict",
            )
        _emit(svc, uow, enterprise_registered, row, cid)
        return "registered"
    if create_only:
        raise ApiError(
            409,
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
    _emit(svc, uow, enterprise_updated, {**dict(existing), **changes}, cid)
    return "updated"


def register(svc: Service, principal: Principal, data: dict[str, Any], cid: str) -> dict[str, Any]:
    jurisdiction = filing_jurisdiction(
        svc.directory, principal, data.get("jurisdiction"), "enterprises"
    )
    data = {**data, "jurisdiction": jurisdiction}
    with svc.uow() as uow:
        _upsert(svc, uow, data, cid, create_only=True)
        uow.commit()
    return get(svc, principal, data["credit_code"])


def patch(
    svc: Service, principal: Principal, code: str, changes: dict[str, Any], cid: str
) -> dict[str, Any]:
    with svc.uow() as uow:
        current = _load(uow.session, principal, code)
        # only the fields sent: _upsert merges them onto the row it locks
        merged = {**changes, "credit_code": code, "jurisdiction": current["jurisdiction"]}
        _upsert(svc, uow, merged, cid, create_only=False)
        uow.commit()
    return get(svc, principal, code)


def _load(session: Any, principal: Principal, code: str) -> dict[str, Any]:
    row = session.execute(select(t).where(t.c.credit_code == code)).mappings().first()
    if row is None:
        raise ApiError(404, f"No enterprise {code} is registered.")
    if not principal.can_see(row["jurisdiction"]):
        # credit codes are public (national registry): saying it is elsewhere leaks nothing
        raise ApiError(
            403,
            f"Enterprise {code} is registered in {row['jurisdiction']}, outside your jurisdiction.",
        )
    return dict(row)


def get(svc: Service, principal: Principal, code: str) -> dict[str, Any]:
    with svc.db.session() as s:
        return _load(s, principal, code)


def search(svc: Service, principal: Principal, args: dict[str, Any]) -> dict[str, Any]:
    """Enterprises in the subtree, by credit code, a page at a time."""
    root = query_root(principal, args.get("jurisdiction"))
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
    with svc.db.session() as s:
        rows = [dict(r) for r in s.execute(q.order_by(t.c.credit_code).limit(limit + 1)).mappings()]
    more = len(rows) > limit
    items = rows[:limit]
    return {
        "items": items,
        "next_cursor": encode_cursor([items[-1]["credit_code"]]) if more else None,
    }


def import_sheet(
    svc: Service, principal: Principal, filename: str, data: bytes, cid: str
) -> dict[str, Any]:
    """Every valid row registered or updated, every invalid row reported by number.

    All accepted rows are written in one transaction (a failure writes none);
    a row is never half-written; importing the same file again changes nothing.
    """
    schema = EnterpriseProfileIn()
    report: dict[str, Any] = {
        "rows": 0,
        "registered": 0,
        "updated": 0,
        "unchanged": 0,
        "rejected": [],
    }
    valid: list[tuple[int, dict[str, Any]]] = []
    seen: dict[str, int] = {}
    for number, record in read_sheet(filename, data):
        report["rows"] += 1
        nul = [k for k, v in record.items() if isinstance(v, str) and "\x00" in v]
        if nul:
            report["rejected"].append(
                {
                    "row": number,
                    "credit_code": None,
                    "errors": {k: ["contains a NUL character"] for k in nul},
                }
            )
            continue
        try:
            # fields of columns the sheet has (no defaults for the others)
            row = {k: v for k, v in schema.load(record).items() if k in record}
        except ValidationError as exc:
            report["rejected"].append(
                {"row": number, "credit_code": record.get("credit_code"), "errors": exc.messages}
            )
            continue
        row["jurisdiction"] = row.get("jurisdiction") or principal.jurisdiction
        problem = None
        if not principal.can_see(row["jurisdiction"]):
            problem = {"jurisdiction": ["outside your jurisdiction"]}
        elif svc.directory.jurisdiction(row["jurisdiction"]) is None:
            problem = {"jurisdiction": ["not a known division"]}
        elif row["credit_code"] in seen:
            problem = {"credit_code": [f"repeats row {seen[row['credit_code']]}"]}
        if problem:
            report["rejected"].append(
                {"row": number, "credit_code": row["credit_code"], "errors": problem}
            )
            continue
        seen[row["credit_code"]] = number
        valid.append((number, row))
    with svc.uow() as uow:
        for number, row in valid:
            try:
                with uow.session.begin_nested():
                    outcome = _upsert(svc, uow, row, cid, create_only=False)
            except (ValueError, ApiError) as exc:  # registered elsewhere, or meanwhile
                field = "jurisdiction" if isinstance(exc, ValueError) else "credit_code"
                report["rejected"].append(
                    {
                        "row": number,
                        "credit_code": row["credit_code"],
                        "errors": {field: [str(exc)]},
                    }
                )
                continue
            report[outcome] += 1
        uow.commit()
    report["rejected"].sort(key=lambda r: r["row"])
    return report
