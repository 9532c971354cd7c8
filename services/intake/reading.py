"""Intake use cases that read demands: one by its code, the ledger a page at a time;
and how a stored demand is shown (its answer, its service notice)."""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import ColumnElement, Select, func, select, tuple_
from sqlalchemy.orm import Session

from services.intake.calendar import service_notice_of
from services.intake.lifecycle import FINAL
from services.intake.models import demands, enterprises
from shared.auth import Principal
from shared.db import UnitOfWork
from shared.events import subtree_prefix
from shared.pagination import cursor_key, encode_cursor
from shared.scoping import query_root
from shared.usecases import Invalid, NotFound


def demand_rows() -> Select[Any]:
    """Demands with their enterprise's name: what every read of a demand starts from."""
    return select(demands, enterprises.c.name.label("enterprise_name")).join(
        enterprises, enterprises.c.credit_code == demands.c.enterprise_credit_code
    )


def sees(actor: Principal, row: Any) -> bool:
    """An office sees its subtree's demands; an enterprise user its own enterprises'."""
    if actor.is_enterprise:
        return actor.acts_for(row.enterprise_credit_code)
    return actor.can_see(row.jurisdiction)


def load_demand(session: Session, code: str, actor: Principal, *, lock: bool = False) -> Any:
    """A demand row the actor may see, or NotFound (the same answer whether it
    does not exist or lies outside the actor's subtree)."""
    q = demand_rows().where(demands.c.code == code)
    if lock:
        q = q.with_for_update(of=demands)
    row = session.execute(q).first()
    if row is None or not sees(actor, row):
        raise NotFound(f"No demand {code} in your jurisdiction.")
    return row


def _contact(row: Any) -> dict[str, Any] | None:
    if not (row.contact_name or row.contact_phone or row.contact_email):
        return None
    return {"name": row.contact_name, "phone": row.contact_phone, "email": row.contact_email}


def _location(row: Any) -> dict[str, Any] | None:
    if not (row.address or row.address_id or row.lat is not None):
        return None
    return {"address": row.address, "address_id": row.address_id, "lat": row.lat, "long": row.long}


def as_demand(row: Any) -> dict[str, Any]:
    """The API's answer for a stored demand (``DemandOut``)."""
    owner = None
    if row.owner_id:
        owner = {"type": row.owner_type, "id": row.owner_id, "name": row.owner_name}
    satisfaction = None
    if row.satisfaction_rating is not None:
        satisfaction = {"rating": row.satisfaction_rating, "comment": row.satisfaction_comment}
    return {
        "code": row.code,
        "jurisdiction": row.jurisdiction,
        "enterprise": {"credit_code": row.enterprise_credit_code, "name": row.enterprise_name},
        "category": row.category,
        "service_item": row.service_item,
        "contact": _contact(row),
        "location": _location(row),
        "media_url": row.media_url,
        "attachments": json.loads(row.attachments or "[]"),
        "ordered_agency": row.ordered_agency,
        "title": row.title,
        "description": row.description,
        "source": row.source,
        "consent_to_share": row.consent_to_share,
        "status": row.status,
        "owner": owner,
        "accepted_at": row.accepted_at,
        "received_at": row.received_at or row.accepted_at,
        "correlation_id": row.correlation_id,
        "complexity": row.complexity,
        "urgency": row.urgency,
        "feasibility": row.feasibility,
        "expected_at": row.expected_at,
        "deadline_provisional": bool(row.deadline_provisional),
        "service_notice": service_notice_of(row),
        "respond_by": row.respond_by,
        "responded_at": row.responded_at,
        "escalated_at": row.escalated_at,
        "escalated_to": row.escalated_to,
        "closed_at": row.closed_at,
        "resolution": row.resolution,
        "satisfaction": satisfaction,
    }


def get_demand(uow: UnitOfWork, actor: Principal, code: str) -> dict[str, Any]:
    with uow.read() as s:
        return as_demand(load_demand(s, code, actor))


def _cursor_time(value: Any) -> datetime:
    after = datetime.fromisoformat(str(value))
    if after.tzinfo is None or not 1900 <= after.year <= 2200:
        raise ValueError("not a cursor time")
    return after


RANGES = (
    ("accepted_from", demands.c.accepted_at, "ge"),
    ("accepted_to", demands.c.accepted_at, "lt"),
    ("closed_from", demands.c.closed_at, "ge"),
    ("closed_to", demands.c.closed_at, "lt"),
)


def demand_filters(args: Mapping[str, Any], now: datetime) -> list[ColumnElement[bool]]:
    """The conditions of a ledger query's filters, in the order they are given."""
    d = demands
    found: list[ColumnElement[bool]] = [
        d.c[name] == args[name]
        for name in ("status", "category", "source", "service_item")
        if name in args
    ]
    if "enterprise" in args:
        found.append(d.c.enterprise_credit_code == args["enterprise"])
    for name, column, op in RANGES:
        if name in args:
            found.append(column >= args[name] if op == "ge" else column < args[name])
    if "overdue" in args:
        late = d.c.status.notin_(FINAL) & (d.c.expected_at < now)
        found.append(late if args["overdue"] else ~late)
    if "open" in args:
        found.append(d.c.status.notin_(FINAL) if args["open"] else d.c.status.in_(FINAL))
    if args.get("owner"):
        found.append(d.c.owner_id.in_(args["owner"]))
    return found


def _listing(actor: Principal, args: dict[str, Any]) -> Select[Any]:
    """The demands a listing selects: the subtree's (an enterprise user's: its own
    enterprises'), filtered."""
    d = demands
    if actor.is_enterprise:
        q = demand_rows().where(d.c.enterprise_credit_code.in_(actor.credit_codes))
    else:
        root = query_root(actor, args.get("jurisdiction"))
        q = demand_rows().where(d.c.jurisdiction.startswith(subtree_prefix(root)))
    for condition in demand_filters(args, datetime.now(UTC)):
        q = q.where(condition)
    return q


def ledger(uow: UnitOfWork, actor: Principal, args: dict[str, Any]) -> bytes:
    """The demand ledger (需求台账) of what the listing's filters select, newest first, as
    an XLSX workbook (``services.intake.ledger``); refused above ``ledger.LIMIT`` demands."""
    from services.intake import ledger as sheet

    d = demands
    q = _listing(actor, args)
    with uow.read() as s:
        n = s.execute(select(func.count()).select_from(q.subquery())).scalar_one()
    if n > sheet.LIMIT:
        raise Invalid.field(
            "accepted_from",
            f"the ledger holds at most {sheet.LIMIT:,} demands and these filters select "
            f"{n:,}: narrow them (a period, a jurisdiction, a status)",
            where="query",
        )

    def rows() -> Iterator[Any]:
        key: tuple[Any, str] | None = None
        while True:
            page = q if key is None else q.where(tuple_(d.c.accepted_at, d.c.code) < key)
            with uow.read() as s:
                batch = s.execute(
                    page.order_by(d.c.accepted_at.desc(), d.c.code.desc()).limit(1000)
                ).all()
            yield from batch
            if len(batch) < 1000:
                return
            key = (batch[-1].accepted_at, batch[-1].code)

    return sheet.workbook(rows())


def list_demands(uow: UnitOfWork, actor: Principal, args: dict[str, Any]) -> dict[str, Any]:
    """Demands in the subtree (an enterprise user's: its own enterprises'), filtered, a page
    at a time (keyset cursor): newest first, or (``order=deadline``) those with a promised
    deadline, the soonest first."""
    d = demands
    q = _listing(actor, args)
    by_deadline = args.get("order") == "deadline"
    when = d.c.expected_at if by_deadline else d.c.accepted_at
    key = cursor_key(args.get("cursor"), 2, lambda k: [_cursor_time(k[0]), str(k[1])])
    if by_deadline:
        q = q.where(when.is_not(None))
        if key is not None:
            q = q.where(tuple_(when, d.c.code) > tuple_(key[0], key[1]))
        q = q.order_by(when, d.c.code)
    else:
        if key is not None:
            q = q.where(tuple_(when, d.c.code) < tuple_(key[0], key[1]))
        q = q.order_by(when.desc(), d.c.code.desc())
    limit = args["limit"]
    with uow.read() as s:
        rows = s.execute(q.limit(limit + 1)).all()
    items = [as_demand(r) for r in rows[:limit]]
    cursor = None
    if len(rows) > limit:
        last = rows[limit - 1]
        last_at = last.expected_at if by_deadline else last.accepted_at
        cursor = encode_cursor([last_at.isoformat(), last.code])
    return {"items": items, "next_cursor": cursor}
