"""The visit log (服务进企): log, revise, read, list. A visit is kept as versions (an edit
is a new version, earlier ones stay readable) with its current enterprises beside it for
the filters and compliance."""

from __future__ import annotations

import hashlib
import json
import uuid
from datetime import UTC, date, datetime
from typing import Any

from sqlalchemy import Select, and_, insert, select, update
from sqlalchemy.orm import Session

from services.visits.domain import period_arg
from services.visits.metrics import VISITS
from services.visits.models import (
    visit_demands,
    visit_enterprises,
    visit_keys,
    visit_versions,
    visits,
)
from services.visits.parties import resolve
from shared.auth import Principal
from shared.contracts import visits as contract
from shared.db import UnitOfWork, claim
from shared.events import subtree_prefix
from shared.pagination import cursor_key, encode_cursor
from shared.usecases import Conflict, Forbidden, Invalid, NotFound


def fingerprint(body: Any) -> str:
    raw = json.dumps(body, sort_keys=True, ensure_ascii=False, default=str, separators=(",", ":"))
    return hashlib.sha256(raw.encode()).hexdigest()


def visit_body(
    visit_id: str,
    version: int,
    data: dict[str, Any],
    who: dict[str, Any],
    actor: str,
    at: datetime,
    reason: str | None,
) -> dict[str, Any]:
    """The version as published in ``visit.logged`` / ``visit.revised``."""
    started, ended = data.get("started_at"), data.get("ended_at")
    return {
        "visit_id": visit_id,
        "version": version,
        "staff_id": data.get("staff_id"),
        "staff_name": who["staff_name"],
        "department_id": who["department_id"],
        "department_name": who["department_name"],
        "team_id": data.get("team_id"),
        "enterprises": who["enterprises"],
        "visited_on": data["visited_on"].isoformat(),
        "started_at": started.isoformat() if started else None,
        "ended_at": ended.isoformat() if ended else None,
        "duration_minutes": who["duration_minutes"],
        "kind": data["kind"],
        "participants": data.get("participants") or [],
        "findings": data.get("findings") or "",
        "outcomes": data.get("outcomes") or "",
        "demands_raised": [
            {**d, "contact": d.get("contact"), "service_item": d.get("service_item")}
            for d in data.get("demands_raised") or []
        ],
        "follow_up_of": list(dict.fromkeys(data.get("follow_up_of") or [])),
        "logged_by": actor,
        "at": at.isoformat(),
        "reason": reason,
    }


def stored_body(body: dict[str, Any]) -> dict[str, Any]:
    """The visit as kept and read back: a demand raised on it keeps its enterprise and
    category only; its content and contact live in intake, under intake's confidentiality
    rules (the demand is linked by code once created)."""
    return body | {
        "demands_raised": [
            {k: d.get(k) for k in ("credit_code", "category", "service_item")}
            for d in body["demands_raised"]
        ]
    }


def _write_current(
    uow: UnitOfWork, body: dict[str, Any], who: dict[str, Any], at: datetime, first: bool
) -> None:
    """Store the version, make it the current one and link the demands it follows up
    (each link announced once, in the demand's own jurisdiction)."""
    s, visit_id, actor = uow.session, body["visit_id"], body["logged_by"]
    visited_on = date.fromisoformat(body["visited_on"])
    values = {
        "version": body["version"],
        "jurisdiction": who["jurisdiction"],
        "staff_id": body["staff_id"],
        "department_id": body["department_id"],
        "team_id": body["team_id"],
        "visited_on": visited_on,
        "kind": body["kind"],
    }
    if first:
        s.execute(insert(visits).values(id=visit_id, created_by=actor, created_at=at, **values))
    else:
        s.execute(update(visits).where(visits.c.id == visit_id).values(**values))
        s.execute(visit_enterprises.delete().where(visit_enterprises.c.visit_id == visit_id))
    for e in body["enterprises"]:
        s.execute(
            insert(visit_enterprises).values(
                visit_id=visit_id,
                credit_code=e["credit_code"],
                enterprise_jurisdiction=e["jurisdiction"],
                visited_on=visited_on,
            )
        )
    s.execute(
        insert(visit_versions).values(
            visit_id=visit_id,
            version=body["version"],
            body=json.dumps(stored_body(body), ensure_ascii=False),
            edited_by=actor,
            edited_at=at,
            reason=body["reason"],
        )
    )
    where = {f["code"]: f["jurisdiction"] for f in who["followed"]}
    for code in body["follow_up_of"]:
        if claim(
            s, uow.db, visit_demands, visit_id=visit_id, demand_code=code, link="follow_up", at=at
        ):
            uow.emit(
                contract.demand_linked(
                    jurisdiction=where[code],  # the demand's own: its trace stays its own
                    payload={
                        "visit_id": visit_id,
                        "demand_code": code,
                        "link": "follow_up",
                        "credit_code": None,
                        "at": at.isoformat(),
                    },
                )
            )


def credited(actor: Principal, command: dict[str, Any]) -> dict[str, Any]:
    """Whom a visit is credited to. A person logs their own visits: a staff member's account
    is credited by default, and naming someone else needs a leader's or an administrator's
    role (the visit then keeps both: ``staff_id`` and ``logged_by``). A system's key logs
    for the staff it names, as before."""
    if not actor.is_person:
        return command
    named = command.get("staff_id")
    if named is None and actor.staff_id:
        return {**command, "staff_id": actor.staff_id}
    if named is not None and named != actor.staff_id and actor.role not in ("admin", "district"):
        raise Forbidden(
            "You log your own visits; logging one for someone else needs a leader's or an "
            "administrator's role.",
            fields={"json": {"staff_id": ["not yours"]}},
        )
    return command


def log_visit(
    uow: UnitOfWork,
    actor: Principal,
    command: dict[str, Any],
    *,
    idempotency_key: str | None = None,
    correlation_id: str | None = None,
) -> tuple[dict[str, Any], bool]:
    """Log a visit; returns (the visit, replayed). The same Idempotency-Key with the same
    body answers with the first visit; with another body, 409."""
    command = credited(actor, command)
    now = datetime.now(UTC)
    sha256 = fingerprint(command)
    visit_id = str(uuid.uuid4())
    with uow:
        # The key is claimed first: a concurrent retry waits on it (PostgreSQL's unique
        # index, SQLite's write lock), then finds it taken and answers as the first did.
        if idempotency_key and not claim(
            uow.session,
            uow.db,
            visit_keys,
            principal=actor.key_id,
            key=idempotency_key,
            request_sha256=sha256,
            visit_id=visit_id,
        ):
            uow.rollback()
            return _replay(uow, actor, idempotency_key, sha256), True
        who = resolve(uow.session, actor, command)
        body = visit_body(visit_id, 1, command, who, actor.key_id, now, None)
        _write_current(uow, body, who, now, first=True)
        uow.emit(
            contract.visit_logged(
                jurisdiction=who["jurisdiction"], payload=body, correlation_id=correlation_id
            )
        )
        uow.commit()
    VISITS.labels(command["kind"]).inc()
    return get_visit(uow, actor, visit_id), False


def _replay(uow: UnitOfWork, actor: Principal, key: str, sha256: str) -> dict[str, Any]:
    with uow.read() as s:
        prior = s.execute(
            select(visit_keys).where(
                visit_keys.c.principal == actor.key_id, visit_keys.c.key == key
            )
        ).one()
    if prior.request_sha256 != sha256:
        raise Conflict(
            "This Idempotency-Key was used with another request body.",
            code="idempotency_key_reused",
        )
    return get_visit(uow, actor, prior.visit_id)


def revise_visit(
    uow: UnitOfWork,
    actor: Principal,
    visit_id: str,
    command: dict[str, Any],
    *,
    correlation_id: str | None = None,
) -> dict[str, Any]:
    """An edit is a new version; earlier versions stay readable. The crediting rule of a
    new visit holds for a revision too."""
    now = datetime.now(UTC)
    data = dict(credited(actor, command))
    reason = data.pop("reason")
    with uow:
        row = uow.session.execute(
            select(visits).where(visits.c.id == visit_id).with_for_update()
        ).first()
        if row is None or not actor.can_see(row.jurisdiction):
            raise NotFound(f"No visit {visit_id}.")
        if data.get("demands_raised"):
            raise Invalid.field(
                "demands_raised", "demands are raised when a visit is logged; log them in intake"
            )
        who = resolve(uow.session, actor, data)
        body = visit_body(visit_id, row.version + 1, data, who, actor.key_id, now, reason)
        _write_current(uow, body, who, now, first=False)
        uow.emit(
            contract.visit_revised(
                jurisdiction=who["jurisdiction"], payload=body, correlation_id=correlation_id
            )
        )
        uow.commit()
    return get_visit(uow, actor, visit_id)


def demands_of(s: Session, visit_ids: list[str]) -> dict[str, list[dict[str, str]]]:
    """The demands linked to each visit (raised on it or followed up), oldest first."""
    out: dict[str, list[dict[str, str]]] = {v: [] for v in visit_ids}
    if visit_ids:
        for r in s.execute(
            select(visit_demands)
            .where(visit_demands.c.visit_id.in_(visit_ids))
            .order_by(visit_demands.c.at, visit_demands.c.demand_code)
        ):
            out[r.visit_id].append({"demand_code": r.demand_code, "link": r.link})
    return out


def get_visit(uow: UnitOfWork, actor: Principal, visit_id: str) -> dict[str, Any]:
    with uow.read() as s:
        row = s.execute(select(visits).where(visits.c.id == visit_id)).first()
        if row is None or not actor.can_see(row.jurisdiction):
            raise NotFound(f"No visit {visit_id}.")
        body = s.execute(
            select(visit_versions.c.body).where(
                visit_versions.c.visit_id == visit_id, visit_versions.c.version == row.version
            )
        ).scalar_one()
        out: dict[str, Any] = json.loads(body) | {"jurisdiction": row.jurisdiction}
        out["demands"] = demands_of(s, [visit_id])[visit_id]
    return out


def versions(uow: UnitOfWork, actor: Principal, visit_id: str) -> list[dict[str, Any]]:
    get_visit(uow, actor, visit_id)  # scope check
    with uow.read() as s:
        rows = s.execute(
            select(visit_versions)
            .where(visit_versions.c.visit_id == visit_id)
            .order_by(visit_versions.c.version)
        ).all()
    return [json.loads(r.body) for r in rows]


def _filtered(actor: Principal, args: dict[str, Any]) -> Select[Any]:
    v = visits.c
    root = args.get("jurisdiction") or actor.jurisdiction
    q = select(visits).where(v.jurisdiction.startswith(subtree_prefix(root)))
    if args.get("jurisdiction") and not actor.can_see(args["jurisdiction"]):
        raise Forbidden(f"Jurisdiction {args['jurisdiction']} is outside your subtree.")
    for name in ("staff_id", "department_id", "team_id", "kind"):
        if args.get(name):
            q = q.where(v[name] == args[name])
    if args.get("enterprise"):
        q = q.where(
            select(visit_enterprises.c.visit_id)
            .where(
                visit_enterprises.c.visit_id == v.id,
                visit_enterprises.c.credit_code == args["enterprise"],
            )
            .exists()
        )
    if args.get("period"):
        p = period_arg(args["period"])
        q = q.where(v.visited_on >= p.start, v.visited_on <= p.end)
    if args.get("from"):
        q = q.where(v.visited_on >= args["from"])
    if args.get("to"):
        q = q.where(v.visited_on <= args["to"])
    return q


def list_visits(uow: UnitOfWork, actor: Principal, args: dict[str, Any]) -> dict[str, Any]:
    """Visits in the subtree, newest first, filtered, a page at a time (keyset cursor)."""
    v = visits.c
    q = _filtered(actor, args)
    key = cursor_key(args.get("cursor"), 2, lambda k: [date.fromisoformat(str(k[0])), str(k[1])])
    if key is not None:
        day = key[0]
        q = q.where((v.visited_on < day) | and_(v.visited_on == day, v.id < key[1]))
    limit = args["limit"]
    with uow.read() as s:
        rows = s.execute(q.order_by(v.visited_on.desc(), v.id.desc()).limit(limit + 1)).all()
        page = rows[:limit]
        bodies = {
            r.visit_id: json.loads(r.body)
            for r in s.execute(
                select(visit_versions.c.visit_id, visit_versions.c.body).where(
                    visit_versions.c.visit_id.in_([r.id for r in page]),
                    visit_versions.c.version
                    == select(visits.c.version)
                    .where(visits.c.id == visit_versions.c.visit_id)
                    .scalar_subquery(),
                )
            )
        }
        linked = demands_of(s, [r.id for r in page])
    items = [bodies[r.id] | {"jurisdiction": r.jurisdiction, "demands": linked[r.id]} for r in page]
    nxt = (
        encode_cursor([page[-1].visited_on.isoformat(), page[-1].id]) if len(rows) > limit else None
    )
    return {"items": items, "next_cursor": nxt}
