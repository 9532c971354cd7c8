"""The expert pool (专家库): experts a unit's offices can call on for a complex demand
(XN 复杂问题应协调…专家资源联合处置), with their technology fields and availability."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select

from services.dispatch.cotasks import available_on
from services.dispatch.models import experts
from shared.auth import Principal
from shared.db import UnitOfWork, upsert
from shared.events import subtree_prefix
from shared.scoping import require_visible, under
from shared.timezone import china_today
from shared.usecases import Invalid


def _out(row: Any, today: Any) -> dict[str, Any]:
    r = dict(row)
    r["fields"] = [x for x in r["fields"].split(",") if x]
    r["available_today"] = available_on(r["availability"], r["unavailable_until"], today)
    return r


def put_expert(
    uow: UnitOfWork, actor: Principal, expert_id: str, data: dict[str, Any]
) -> dict[str, Any]:
    """Create or replace an expert of the pool in a unit of the actor's subtree."""
    require_visible(actor, data["jurisdiction"])
    if data["availability"] == "available" and data.get("unavailable_until"):
        raise Invalid.field("unavailable_until", "only for an unavailable expert")
    fields_ = sorted({f.strip() for f in data["fields"] if f.strip()})
    if any("," in f for f in fields_):
        raise Invalid.field("fields", "a field may not contain a comma")
    values = {
        "jurisdiction": data["jurisdiction"],
        "name": data["name"],
        "fields": ",".join(fields_),
        "institution": data.get("institution"),
        "phone": data.get("phone"),
        "availability": data["availability"],
        "unavailable_until": data.get("unavailable_until"),
        "updated_by": actor.key_id,
        "updated_at": datetime.now(UTC),
    }
    with uow:
        old = uow.session.execute(
            select(experts.c.jurisdiction).where(experts.c.id == expert_id)
        ).scalar()
        if old is not None:
            require_visible(actor, old)
        upsert(uow.session, experts, {"id": expert_id}, values)
        uow.commit()
    return _out({"id": expert_id, **values}, china_today())


def list_experts(uow: UnitOfWork, actor: Principal, args: dict[str, Any]) -> list[dict[str, Any]]:
    """The pool of the actor's subtree, by id; ``field`` (one technology field) and
    ``available`` (today) filter it."""
    e = experts.c
    q = select(experts).where(under(e.jurisdiction, subtree_prefix(actor.jurisdiction)))
    today = china_today()
    with uow.read() as s:
        rows = [_out(r, today) for r in s.execute(q.order_by(e.id)).mappings()]
    if args.get("field"):
        rows = [r for r in rows if args["field"] in r["fields"]]
    if args.get("available") is not None:
        rows = [r for r in rows if r["available_today"] == args["available"]]
    return rows[: args["limit"]]


def get_expert(uow: UnitOfWork, actor: Principal, expert_id: str) -> dict[str, Any] | None:
    """One expert of the actor's subtree (None otherwise)."""
    with uow.read() as s:
        row = s.execute(select(experts).where(experts.c.id == expert_id)).mappings().first()
    if row is None or not actor.can_see(row["jurisdiction"]):
        return None
    return _out(row, china_today())


def seed_experts(uow: UnitOfWork, rows: list[tuple[str, str, str, tuple[str, ...], str]]) -> int:
    """Add the experts not yet in the pool (``(id, unit, name, fields, institution)``, all
    available; idempotent: a known id is left as it is); how many were new."""
    added = 0
    with uow:
        known = set(uow.session.execute(select(experts.c.id)).scalars())
        for expert_id, jurisdiction, name, fields_, institution in rows:
            if expert_id in known:
                continue
            uow.session.execute(
                experts.insert().values(
                    id=expert_id,
                    jurisdiction=jurisdiction,
                    name=name,
                    fields=",".join(sorted(fields_)),
                    institution=institution,
                    availability="available",
                    updated_by="seed",
                    updated_at=datetime.now(UTC),
                )
            )
            added += 1
        uow.commit()
    return added
