"""Finding archived events: a demand's trace, and search by subject, subtree and time.

``matching`` (the filter, scoped to the actor's subtree) is also the export's and the
replay's selection.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import timedelta
from typing import Any

from sqlalchemy import Row, Select, or_, select

from services.archive.models import archived_events
from shared.auth import Principal
from shared.db import UnitOfWork
from shared.events import subtree_prefix
from shared.pagination import cursor_key, encode_cursor
from shared.usecases import Forbidden, Invalid, NotFound

t = archived_events
MAX_SYNC_DAYS = 366  # a search over a wider range is refused: use the streaming export
# query argument → the indexed column it filters on (equality)
# What an auditor reads of the archive, and nothing else: the security trail — sign-ins
# and their refusals, accounts and roles, keys, signing keys, refused calls, re-driven
# dead letters (the permission matrix's scope ``trail``).
SECURITY_TRAIL = ("person.", "apikey.", "signing_key.", "access.", "dead_letter.")
FILTERS = (
    ("enterprise", "credit_code"),
    ("staff", "staff_id"),
    ("agency", "agency_id"),
    ("type", "event_type"),
    ("producer", "producer"),
    ("demand", "demand_code"),
    ("correlation_id", "correlation_id"),
)


def envelope_of(r: Any) -> dict[str, Any]:
    """An archived record as answered: its envelope, and where it sits in the archive."""
    return {
        **json.loads(r.body),
        "archive": {"seq": r.seq, "hash": r.hash, "archived_at": r.archived_at.isoformat()},
    }


def home_of(rows: Sequence[Any]) -> str | None:
    """Where a demand belongs: where its ``demand.accepted`` was filed (else where its
    first event happened; None for no events)."""
    home = next((r.jurisdiction for r in rows if r.event_type == "demand.accepted"), None)
    return home or (rows[0].jurisdiction if rows else None)


def trace(uow: UnitOfWork, actor: Principal, code: str) -> list[dict[str, Any]]:
    """Every archived event of one demand, oldest first, each with its envelope. The
    demand belongs where its ``demand.accepted`` was filed."""
    with uow.read() as s:
        rows = s.execute(
            select(t.c.seq, t.c.body, t.c.hash, t.c.jurisdiction, t.c.archived_at, t.c.event_type)
            .where(t.c.demand_code == code)
            .order_by(t.c.occurred_at, t.c.seq)
        ).all()
    home = home_of(rows)
    if home is None or not actor.can_see(home):
        raise NotFound(f"No archived events for demand {code} in your jurisdiction.")
    return [envelope_of(r) for r in rows]


def matching(actor: Principal | None, args: dict[str, Any]) -> Select[Any]:
    """The matching records; ``actor`` None is the platform operator (the CLI). Forbidden
    for a jurisdiction outside the actor's subtree; an auditor's only of the security
    trail."""
    root = args.get("jurisdiction") or (actor.jurisdiction if actor else None)
    if actor is not None and root is not None and not actor.can_see(root):
        raise Forbidden(
            f"{root} is outside your jurisdiction.",
            fields={"query": {"jurisdiction": ["outside your jurisdiction"]}},
        )
    q = select(t)
    if actor is not None and actor.role == "auditor":
        q = q.where(or_(*(t.c.event_type.startswith(p, autoescape=True) for p in SECURITY_TRAIL)))
    if root is not None:
        q = q.where(t.c.jurisdiction.startswith(subtree_prefix(root)))
    for name, column in FILTERS:
        if args.get(name):
            q = q.where(t.c[column] == args[name])
    if args.get("from"):
        q = q.where(t.c.occurred_at >= args["from"])
    if args.get("to"):
        q = q.where(t.c.occurred_at < args["to"])
    return q


def check_range(args: dict[str, Any]) -> None:
    """Invalid for a time range that ends before (or when) it starts."""
    start, end = args.get("from"), args.get("to")
    if start is not None and end is not None and end <= start:
        raise Invalid(
            "The range ends after it starts.", fields={"query": {"to": ["not after from"]}}
        )


def check_sync_range(args: dict[str, Any]) -> None:
    """A search needs a range of at most ``MAX_SYNC_DAYS``: more is for the export."""
    start, end = args.get("from"), args.get("to")
    if start is None or end is None:
        raise Invalid(
            "Give a time range (from, to) of at most a year; for more use "
            "GET /archive/api/v1/export.",
            fields={"query": {"from": ["required"], "to": ["required"]}},
        )
    check_range(args)
    if end - start > timedelta(days=MAX_SYNC_DAYS):
        raise Invalid(
            f"A range over {MAX_SYNC_DAYS} days is too wide for a synchronous "
            "query: use the streaming export GET /archive/api/v1/export.",
            fields={"query": {"to": ["range too wide"]}},
        )


def search(uow: UnitOfWork, actor: Principal, args: dict[str, Any]) -> dict[str, Any]:
    """Events by enterprise, staff, agency, subtree, type and time range, newest first,
    a page at a time. A range wider than a year (or none) is for the streaming export."""
    check_sync_range(args)
    q = matching(actor, args)
    key = cursor_key(args.get("cursor"), 1, lambda k: [int(k[0])])
    if key is not None:
        q = q.where(t.c.seq < key[0])
    limit = args["limit"]
    with uow.read() as s:
        rows: Sequence[Row[Any]] = s.execute(q.order_by(t.c.seq.desc()).limit(limit + 1)).all()
    page = rows[:limit]
    return {
        "items": [envelope_of(r) for r in page],
        "next_cursor": encode_cursor([page[-1].seq]) if len(rows) > limit else None,
    }
