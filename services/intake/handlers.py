"""Intake use cases: load through the unit of work, apply the rules, save, emit."""

from __future__ import annotations

import hashlib
import json
import logging
from datetime import UTC, date, datetime
from types import SimpleNamespace
from typing import Any

from sqlalchemy import insert, select, tuple_, update
from sqlalchemy.exc import IntegrityError

from services.intake import metrics
from services.intake.calendar import (
    DEFAULT_TIME_LIMITS,
    Deadline,
    WorkingCalendar,
    service_notice,
)
from services.intake.domain import Demand, demand_year, unified_code
from services.intake.models import (
    demand_sequences,
    demand_updates,
    demands,
    enterprises,
    idempotency_keys,
    time_limit_rules,
)
from services.intake.schemas import DemandOut
from shared.auth import Principal
from shared.catalogue import BY_CODE
from shared.contracts import intake as contract
from shared.db import UnitOfWork, insert_or_ignore
from shared.errors import ApiError
from shared.events import Event, in_subtree, jurisdiction_path, subtree_prefix
from shared.pagination import cursor_key, encode_cursor
from shared.runtime import Service
from shared.scoping import filing_jurisdiction, query_root

log = logging.getLogger(__name__)


def _next_sequence(svc: Service, jurisdiction: str, year: int) -> int:
    """Take the next number of a jurisdiction's yearly sequence, in its own transaction.

    Like a database sequence it is committed at once, so the hot row is locked
    only for that instant and concurrent demands do not queue behind each
    other's whole transaction. A demand whose write then fails leaves a gap:
    codes are unique and never reused, not gap-free.
    """
    with svc.db.write_session() as s:
        value = _bump_sequence(s, jurisdiction, year)
        s.commit()
    return int(value)


def _bump_sequence(s: Any, jurisdiction: str, year: int) -> int:
    """Take the next number in session ``s`` (its caller commits)."""
    t = demand_sequences
    where = (t.c.jurisdiction == jurisdiction) & (t.c.year == year)
    bump = update(t).where(where).values(last_value=t.c.last_value + 1).returning(t.c.last_value)
    value = s.execute(bump).scalar()
    if value is None:
        try:
            with s.begin_nested():
                s.execute(insert(t).values(jurisdiction=jurisdiction, year=year, last_value=1))
            value = 1
        except IntegrityError:  # a concurrent first demand of the year created the row
            value = s.execute(bump).scalar_one()
    return int(value)


def time_rules(session: Any, jurisdiction: str) -> tuple[str, dict[str, int], WorkingCalendar]:
    """The time limits and calendar in force: the nearest jurisdiction on the path
    with its own rules, else the defaults (DOMAIN.md)."""
    path = jurisdiction_path(jurisdiction)
    rows = {
        r.jurisdiction: r
        for r in session.execute(
            select(time_limit_rules).where(time_limit_rules.c.jurisdiction.in_(path))
        )
    }
    for code in reversed(path):
        r = rows.get(code)
        if r is not None:
            limits = {"simple": r.simple, "general": r.general, "complex": r.complex}
            closures = [date.fromisoformat(d) for d in json.loads(r.closures)]
            return code, limits, WorkingCalendar.with_closures(closures)
    return "default", dict(DEFAULT_TIME_LIMITS), WorkingCalendar()


def _claim_key(
    svc: Service,
    uow: UnitOfWork,
    principal: Principal,
    idempotency: tuple[str, str],
    now: datetime,
) -> None:
    """Claim an Idempotency-Key in this transaction, first. A concurrent request with
    the same key waits here (PostgreSQL's unique index; SQLite's write lock) and then
    finds the key taken: it answers as the first did, or 409 for another body."""
    key, fingerprint = idempotency
    claimed = uow.session.execute(
        insert_or_ignore(uow.db, idempotency_keys)
        .values(
            principal=principal.key_id,
            key=key,
            request_sha256=fingerprint,
            status=0,
            response="",
            created_at=now,
        )
        .returning(idempotency_keys.c.key)
    ).first()
    if claimed is None:
        uow.rollback()
        stored = replay(svc, principal, key, fingerprint)
        raise Replayed(stored or "")


class Replayed(Exception):
    """The request repeats an earlier one (same Idempotency-Key and body)."""

    def __init__(self, body: str) -> None:
        super().__init__("idempotent replay")
        self.body = body


def request_fingerprint(body: Any) -> str:
    return hashlib.sha256(
        json.dumps(body, sort_keys=True, ensure_ascii=False, separators=(",", ":")).encode()
    ).hexdigest()


def replay(svc: Service, principal: Principal, key: str, fingerprint: str) -> str | None:
    """The stored response of an earlier request with this Idempotency-Key, if any."""
    with svc.db.session() as s:
        row = s.execute(
            select(idempotency_keys).where(
                idempotency_keys.c.principal == principal.key_id, idempotency_keys.c.key == key
            )
        ).first()
    if row is None:
        return None
    if row.request_sha256 != fingerprint:
        raise ApiError(
            409,
            "This Idempotency-Key was used with another request body.",
            code="idempotency_key_reused",
            fields={"headers": {"Idempotency-Key": ["already used with a different body"]}},
        )
    return str(row.response)


def accept_demand(
    svc: Service,
    data: dict[str, Any],
    principal: Principal,
    correlation_id: str,
    idempotency: tuple[str, str] | None = None,
) -> dict[str, Any]:
    now = datetime.now(UTC)
    ent = data["enterprise"]
    with svc.db.session() as s:
        known = s.execute(
            select(enterprises.c.name, enterprises.c.jurisdiction).where(
                enterprises.c.credit_code == ent["credit_code"]
            )
        ).first()
    if known is not None and not principal.can_see(known.jurisdiction):
        raise ApiError(
            403,
            f"Enterprise {ent['credit_code']} is registered in {known.jurisdiction}, "
            "outside your jurisdiction.",
            fields={
                "json": {"enterprise": {"credit_code": ["registered outside your jurisdiction"]}}
            },
        )
    # A demand is filed where its enterprise is (or above it): by default there.
    default = known.jurisdiction if known is not None else None
    jurisdiction = filing_jurisdiction(
        svc.directory, principal, data.get("jurisdiction") or default, "demands"
    )
    if known is not None and not in_subtree(known.jurisdiction, jurisdiction):
        raise ApiError(
            422,
            "The request is invalid; see fields.",
            fields={
                "json": {
                    "jurisdiction": [
                        f"the enterprise is registered in {known.jurisdiction}; file its demands "
                        "there or in a jurisdiction above it"
                    ]
                }
            },
        )
    if known is None and not ent.get("name"):
        raise ApiError(
            422,
            "The request is invalid; see fields.",
            fields={
                "json": {
                    "enterprise": {"name": ["unknown enterprise: send its name to register it"]}
                }
            },
        )
    # Checks first, then the number (a refused demand uses none); before the unit of
    # work, because on SQLite a second write transaction would wait for it.
    seq = _next_sequence(svc, jurisdiction, demand_year(now))
    with svc.uow() as uow:
        if idempotency is not None:
            _claim_key(svc, uow, principal, idempotency, now)
        values, demand = _store_demand(
            svc.name, uow, data, jurisdiction, seq, known, principal.key_id, correlation_id, now
        )
        result = _row_to_dict(
            SimpleNamespace(**_EMPTY, **values, enterprise_name=demand.enterprise_name)
        )
        if idempotency is not None:
            uow.session.execute(
                update(idempotency_keys)
                .where(
                    idempotency_keys.c.principal == principal.key_id,
                    idempotency_keys.c.key == idempotency[0],
                )
                .values(
                    status=201, response=json.dumps(DemandOut().dump(result), ensure_ascii=False)
                )
            )
        uow.commit()
    log.info("demand %s accepted in %s", demand.code, jurisdiction)
    metrics.counted("accepted", demand.category, jurisdiction)
    return result


def _store_demand(
    producer: str,
    uow: UnitOfWork,
    data: dict[str, Any],
    jurisdiction: str,
    seq: int,
    known: Any,
    actor: str,
    correlation_id: str,
    now: datetime,
) -> tuple[dict[str, Any], Demand]:
    """Store an accepted demand, its first update and its ``demand.accepted`` (shared by
    the HTTP intake and the demands raised on a visit)."""
    ent = data["enterprise"]
    if known is None:
        # Two first demands of a new enterprise may race: the loser's row is ignored.
        registered = uow.session.execute(
            insert_or_ignore(uow.db, enterprises)
            .values(
                credit_code=ent["credit_code"],
                name=ent["name"],
                jurisdiction=jurisdiction,
                created_at=now,
            )
            .returning(enterprises.c.credit_code)
        ).first()
        if registered is not None:
            uow.emit(
                contract.enterprise_registered(
                    jurisdiction=jurisdiction,
                    correlation_id=correlation_id,
                    payload={
                        "credit_code": ent["credit_code"],
                        "name": ent["name"],
                        "jurisdiction": jurisdiction,
                        "is_key": False,
                        "needs_named_person": False,
                        "needs_one_plan": False,
                    },
                )
            )
    _, limits, calendar = time_rules(uow.session, jurisdiction)
    deadline = calendar.deadline(now, limits[data["complexity"]])
    demand = Demand(
        code=unified_code(jurisdiction, demand_year(now), seq),
        jurisdiction=jurisdiction,
        enterprise_credit_code=ent["credit_code"],
        enterprise_name=known.name if known else ent["name"],
        category=data["category"],
        title=data["title"],
        description=data["description"],
        source=data["source"],
        consent_to_share=data["consent_to_share"],
        accepted_at=now,
        accepted_by=actor,
    )
    contact = data.get("contact") or {}
    location = data.get("location") or {}
    values = {
        "code": demand.code,
        "jurisdiction": jurisdiction,
        "enterprise_credit_code": demand.enterprise_credit_code,
        "category": demand.category,
        "service_item": data.get("service_item"),
        "title": demand.title,
        "description": demand.description,
        "source": demand.source,
        "contact_name": contact.get("name"),
        "contact_phone": contact.get("phone"),
        "contact_email": contact.get("email"),
        "address": location.get("address"),
        "address_id": location.get("address_id"),
        "lat": location.get("lat"),
        "long": location.get("long"),
        "media_url": data.get("media_url"),
        "attachments": json.dumps(data.get("attachments") or []),
        "ordered_agency": data.get("ordered_agency"),
        "consent_to_share": demand.consent_to_share,
        "status": demand.status,
        "correlation_id": correlation_id,
        "accepted_by": demand.accepted_by,
        "accepted_at": now,
        "complexity": data["complexity"],
        "expected_at": deadline.due.astimezone(UTC),
        "deadline_provisional": deadline.provisional,
    }
    uow.session.execute(insert(demands).values(**values))
    record_update(
        uow,
        demand.code,
        "transition",
        actor,
        now,
        to_status="accepted",
        note="受理 accepted",
    )
    item = BY_CODE.get(data.get("service_item") or "")
    payload = demand.accepted_payload() | {
        "complexity": data["complexity"],
        "expected_at": deadline.due.isoformat(),
        "deadline_provisional": deadline.provisional,
    }
    if item is not None:
        payload |= {"service_item": item.code, "agency_category": item.agency_category}
    if data.get("ordered_agency"):
        payload["ordered_agency"] = data["ordered_agency"]
    if data.get("contact"):  # for the handling parties; dispatch passes it on with consent
        payload["contact"] = data["contact"]
    if data.get("visit_id"):  # raised on a visit (服务进企): visits links it back
        payload["visit_id"] = data["visit_id"]
    uow.emit(
        contract.demand_accepted(
            jurisdiction=jurisdiction,
            payload=payload,
            correlation_id=correlation_id,
        )
    )
    return values, demand


def on_visit_logged(event: Event, uow: UnitOfWork) -> None:
    """Demands raised on a visit enter the closed loop without retyping (source
    ``field_visit``), filed where their enterprise is registered."""
    p = event.payload
    now = datetime.now(UTC)
    for raised in p.get("demands_raised") or []:
        ent = uow.session.execute(
            select(enterprises.c.name, enterprises.c.jurisdiction).where(
                enterprises.c.credit_code == raised["credit_code"]
            )
        ).first()
        if ent is None:  # visits checks enterprises against intake's own announcements
            raise LookupError(f"visit {p['visit_id']}: unknown enterprise {raised['credit_code']}")
        data = {
            "enterprise": {"credit_code": raised["credit_code"], "name": ent.name},
            "category": raised["category"],
            "service_item": raised.get("service_item"),
            "title": raised["title"],
            "description": raised["description"],
            "source": "field_visit",
            "consent_to_share": raised.get("consent_to_share", False),
            "contact": raised.get("contact"),
            "complexity": raised.get("complexity") or "general",
            "visit_id": p["visit_id"],
        }
        seq = _bump_sequence(uow.session, ent.jurisdiction, demand_year(now))
        _, demand = _store_demand(
            "intake",
            uow,
            data,
            ent.jurisdiction,
            seq,
            ent,
            p["logged_by"],
            event.correlation_id,
            now,
        )
        log.info("demand %s raised on visit %s", demand.code, p["visit_id"])
        metrics.counted("accepted", demand.category, ent.jurisdiction)


_EMPTY = {
    "owner_type": None,
    "owner_id": None,
    "owner_name": None,
    "urgency": None,
    "feasibility": None,
    "closed_at": None,
    "resolution": None,
    "satisfaction_rating": None,
    "satisfaction_comment": None,
}


def record_update(
    uow: UnitOfWork,
    code: str,
    kind: str,
    actor: str,
    at: datetime,
    *,
    from_status: str | None = None,
    to_status: str | None = None,
    note: str = "",
    details: dict[str, Any] | None = None,
) -> None:
    """Append one step to the demand's updates feed (never updated, never deleted)."""
    uow.session.execute(
        insert(demand_updates).values(
            demand_code=code,
            kind=kind,
            from_status=from_status,
            to_status=to_status,
            note=note,
            details=json.dumps(details or {}, ensure_ascii=False, default=str),
            actor=actor,
            at=at,
        )
    )


def service_notice_of(row: Any) -> str | None:
    """The promise stated to the enterprise, from a stored demand."""
    if row.expected_at is None:
        return None
    deadline = Deadline(row.expected_at, 0, bool(row.deadline_provisional))
    return service_notice(row.code, row.complexity, deadline)


def _row_to_dict(row: Any) -> dict[str, Any]:
    owner = None
    if row.owner_id:
        owner = {"type": row.owner_type, "id": row.owner_id, "name": row.owner_name}
    satisfaction = None
    if row.satisfaction_rating is not None:
        satisfaction = {"rating": row.satisfaction_rating, "comment": row.satisfaction_comment}
    notice = service_notice_of(row)
    return {
        "code": row.code,
        "jurisdiction": row.jurisdiction,
        "enterprise": {"credit_code": row.enterprise_credit_code, "name": row.enterprise_name},
        "category": row.category,
        "service_item": row.service_item,
        "contact": {
            "name": row.contact_name,
            "phone": row.contact_phone,
            "email": row.contact_email,
        }
        if (row.contact_name or row.contact_phone or row.contact_email)
        else None,
        "location": {
            "address": row.address,
            "address_id": row.address_id,
            "lat": row.lat,
            "long": row.long,
        }
        if (row.address or row.address_id or row.lat is not None)
        else None,
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
        "correlation_id": row.correlation_id,
        "complexity": row.complexity,
        "urgency": row.urgency,
        "feasibility": row.feasibility,
        "expected_at": row.expected_at,
        "deadline_provisional": bool(row.deadline_provisional),
        "service_notice": notice,
        "closed_at": row.closed_at,
        "resolution": row.resolution,
        "satisfaction": satisfaction,
    }


def _select() -> Any:
    return select(demands, enterprises.c.name.label("enterprise_name")).join(
        enterprises, enterprises.c.credit_code == demands.c.enterprise_credit_code
    )


def load_demand(session: Any, code: str, principal: Principal, *, lock: bool = False) -> Any:
    """A demand row the principal may see, or a 404 (the same answer whether it
    does not exist or lies outside the principal's subtree)."""
    q = _select().where(demands.c.code == code)
    if lock:
        q = q.with_for_update(of=demands)
    row = session.execute(q).first()
    if row is None or not principal.can_see(row.jurisdiction):
        raise ApiError(404, f"No demand {code} in your jurisdiction.")
    return row


def get_demand(svc: Service, code: str, principal: Principal) -> dict[str, Any]:
    with svc.db.session() as s:
        return _row_to_dict(load_demand(s, code, principal))


def _cursor_time(value: Any) -> datetime:
    after = datetime.fromisoformat(str(value))
    if after.tzinfo is None or not 1900 <= after.year <= 2200:
        raise ValueError("not a cursor time")
    return after


def list_demands(svc: Service, principal: Principal, args: dict[str, Any]) -> dict[str, Any]:
    """Demands in the subtree, newest first, filtered, a page at a time (keyset cursor)."""
    root = query_root(principal, args.get("jurisdiction"))
    d = demands
    q = _select().where(d.c.jurisdiction.startswith(subtree_prefix(root)))
    for name in ("status", "category", "source", "service_item"):
        if name in args:
            q = q.where(d.c[name] == args[name])
    if "enterprise" in args:
        q = q.where(d.c.enterprise_credit_code == args["enterprise"])
    for name, column, op in (
        ("accepted_from", d.c.accepted_at, "ge"),
        ("accepted_to", d.c.accepted_at, "lt"),
        ("closed_from", d.c.closed_at, "ge"),
        ("closed_to", d.c.closed_at, "lt"),
    ):
        if name in args:
            q = q.where(column >= args[name] if op == "ge" else column < args[name])
    if "overdue" in args:
        late = d.c.status.notin_(("closed", "rejected")) & (d.c.expected_at < datetime.now(UTC))
        q = q.where(late if args["overdue"] else ~late)
    key = cursor_key(args.get("cursor"), 2, lambda k: [_cursor_time(k[0]), str(k[1])])
    if key is not None:
        q = q.where(tuple_(d.c.accepted_at, d.c.code) < tuple_(key[0], key[1]))
    limit = args["limit"]
    with svc.db.session() as s:
        rows = s.execute(q.order_by(d.c.accepted_at.desc(), d.c.code.desc()).limit(limit + 1)).all()
    items = [_row_to_dict(r) for r in rows[:limit]]
    cursor = None
    if len(rows) > limit:
        last = items[-1]
        cursor = encode_cursor([last["accepted_at"].isoformat(), last["code"]])
    return {"items": items, "next_cursor": cursor}


def on_assignment_made(event: Event, uow: UnitOfWork) -> None:
    """Record the demand's responsible owner when dispatch assigns one."""
    p = event.payload
    if p["kind"] != "owner":
        return
    uow.session.execute(
        update(demands)
        .where(demands.c.code == p["demand_code"])
        .values(
            owner_type=p["assignee_type"], owner_id=p["assignee_id"], owner_name=p["assignee_name"]
        )
    )


def seed_enterprises(svc: Service, rows: list[tuple[str, str, str]]) -> int:
    """Register enterprises that are not yet known (idempotent); returns how many were new."""
    added = 0
    with svc.uow() as uow:
        for code, name, jurisdiction in rows:
            exists = uow.session.execute(
                select(enterprises.c.credit_code).where(enterprises.c.credit_code == code)
            ).first()
            if exists is None:
                uow.session.execute(
                    insert(enterprises).values(
                        credit_code=code,
                        name=name,
                        jurisdiction=jurisdiction,
                        created_at=datetime.now(UTC),
                    )
                )
                uow.emit(  # dispatch and visits keep their own copy of the registry
                    contract.enterprise_registered(
                        jurisdiction=jurisdiction,
                        payload={
                            "credit_code": code,
                            "name": name,
                            "jurisdiction": jurisdiction,
                            "is_key": False,
                            "needs_named_person": False,
                            "needs_one_plan": False,
                        },
                    )
                )
                added += 1
        uow.commit()
    return added
