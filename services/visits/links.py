"""Which unit is responsible for visiting which enterprise (包保): the standing links
dispatch announces before any demand (``handlers.on_responsibility_linked``) and the links
the owner assignments made (``handlers.on_assignment_made``), read in the actor's subtree."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from services.visits.models import enterprise_links
from shared.auth import Principal
from shared.db import UnitOfWork
from shared.events import subtree_prefix


def list_links(uow: UnitOfWork, actor: Principal, args: dict[str, Any]) -> list[dict[str, Any]]:
    """The links in the subtree, newest first; ``enterprise`` and ``unit_id`` filter."""
    t = enterprise_links
    q = select(t).where(t.c.jurisdiction.startswith(subtree_prefix(actor.jurisdiction)))
    if args.get("enterprise"):
        q = q.where(t.c.enterprise_credit_code == args["enterprise"])
    if args.get("unit_id"):
        q = q.where(t.c.unit_id == args["unit_id"])
    if args.get("standing") is not None:
        q = q.where(t.c.standing.is_(args["standing"]))
    with uow.read() as s:
        rows = s.execute(q.order_by(t.c.since.desc()).limit(args["limit"])).mappings()
        return [dict(r) for r in rows]
