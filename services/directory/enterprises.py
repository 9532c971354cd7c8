"""Enterprise users and the enterprises they act for (企业用户).

An enterprise user acts for an enterprise (its unified social credit code) only once the
binding is confirmed — by the enterprise's office (office staff, or an account manager, of
a unit whose subtree holds the account's unit) or by the enterprise's registered contact on
the platform (an enterprise user already confirmed for that code). Until then the account
signs in and sees nothing of the enterprise: the services scope an enterprise user by the
confirmed codes its token carries.

* ``register`` — anyone opens an enterprise account: a log-in name, a name, the unit where
  the enterprise is registered (an open unit), a password that meets the rule and the code
  it asks to act for (GB 32100-2015). The answer is the account (role ``enterprise``, no
  enterprise yet) and its request.
* ``request`` — a signed-in enterprise user asks for another enterprise.
* ``decide`` — the office or the registered contact confirms or refuses a request; a
  confirmed code joins the account (``person.updated``: every service's copy, and the
  account's next token). A refused request may be asked again.
* ``requests`` — what a caller may decide (the office: its subtree's; a registered contact:
  its enterprises'), or an enterprise user's own.

Every request and decision is a ``person.binding_changed`` event the archive keeps. A
security administrator may still bind codes directly (``people.change_roles``).
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from services.directory.models import enterprise_bindings, persons
from services.directory.passwords import Hasher
from services.directory.people import announce, new_account, store_account
from services.directory.signin import person_view
from shared.auth import Principal
from shared.contracts import directory as contract
from shared.creditcodes import credit_code_error
from shared.db import UnitOfWork
from shared.events import subtree_prefix
from shared.usecases import Conflict, Forbidden, Invalid, NotFound

OFFICE = ("admin", "district", "staff")  # the API roles of an enterprise's office
STATUSES = ("requested", "confirmed", "refused")


def register(
    uow: UnitOfWork,
    command: dict[str, Any],
    *,
    hasher: Hasher,
    correlation_id: str | None = None,
) -> dict[str, Any]:
    """A new enterprise account and its first request (see the module's docstring)."""
    code = command["credit_code"]
    why = credit_code_error(code)
    if why:
        raise Invalid.field("credit_code", why)
    account = {k: command[k] for k in ("person_id", "name", "unit", "password")}
    row, _ = new_account({**account, "roles": ["enterprise"]}, hasher)
    me = f"person:{row['person_id']}"
    with uow:
        stored = store_account(uow.session, row)
        uow.emit(announce(contract.person_created, stored, me, row["created_at"], correlation_id))
        asked = _ask(uow.session, uow, stored, code, correlation_id)
        uow.commit()
    return {"person": person_view(stored), "request": asked}


def request(
    uow: UnitOfWork, actor: Principal, command: dict[str, Any], *, correlation_id: str | None = None
) -> dict[str, Any]:
    """A signed-in enterprise user asks to act for one more enterprise."""
    code = command["credit_code"]
    why = credit_code_error(code)
    if why:
        raise Invalid.field("credit_code", why)
    if not actor.is_person or "enterprise" not in actor.roles:
        raise Forbidden("Only an enterprise user asks to act for an enterprise.")
    person_id = actor.key_id.removeprefix("person:")
    with uow:
        account = uow.session.execute(
            select(persons).where(persons.c.person_id == person_id)
        ).first()
        if account is None:
            raise NotFound(f"No account {person_id}.")
        asked = _ask(uow.session, uow, account, code, correlation_id)
        uow.commit()
    return asked


def _ask(s: Session, uow: UnitOfWork, account: Any, code: str, cid: str | None) -> dict[str, Any]:
    """Record ``account``'s request for ``code`` (again, after a refusal), in the caller's
    transaction."""
    now = datetime.now(UTC)
    t = enterprise_bindings
    person_id = account.person_id
    if code in json.loads(account.credit_codes):
        raise Conflict(
            f"{person_id} acts for {code} already.", fields={"json": {"credit_code": ["bound"]}}
        )
    row = s.execute(select(t).where(t.c.person_id == person_id, t.c.credit_code == code)).first()
    if row is not None and row.status == "requested":
        raise Conflict(
            f"{person_id} has asked for {code} already.",
            fields={"json": {"credit_code": ["requested"]}},
        )
    fresh = {
        "status": "requested",
        "requested_at": now,
        "decided_by": None,
        "decided_as": None,
        "decided_at": None,
        "note": None,
    }
    if row is None:
        s.execute(t.insert().values(person_id=person_id, credit_code=code, **fresh))
    else:  # refused, or confirmed once and unbound since: asked again
        s.execute(update(t).where(t.c.id == row.id).values(**fresh))
    stored = s.execute(select(t).where(t.c.person_id == person_id, t.c.credit_code == code)).one()
    uow.emit(_changed(stored, account.unit, f"person:{person_id}", now, cid))
    return request_view(stored, account)


def decide(
    uow: UnitOfWork,
    actor: Principal,
    request_id: int,
    command: dict[str, Any],
    *,
    correlation_id: str | None = None,
) -> dict[str, Any]:
    """Confirm (``confirm`` true) or refuse a request, with a ``note``; the office of the
    account's unit or the enterprise's registered contact decides, nobody their own."""
    now = datetime.now(UTC)
    t = enterprise_bindings
    with uow:
        s = uow.session
        row = s.execute(select(t).where(t.c.id == request_id)).first()
        if row is None:
            raise NotFound(f"No request {request_id} for you to decide.")
        account = s.execute(select(persons).where(persons.c.person_id == row.person_id)).one()
        decider = _decider(actor, row.credit_code, account)
        if decider is None:
            raise NotFound(f"No request {request_id} for you to decide.")
        if actor.key_id == f"person:{row.person_id}":
            raise Forbidden("Nobody confirms their own request.")
        if row.status != "requested":
            raise Conflict(f"Request {request_id} is {row.status} already.")
        if command["confirm"] and "enterprise" not in json.loads(account.roles):
            raise Conflict(f"{row.person_id} is no longer an enterprise user.")
        status = "confirmed" if command["confirm"] else "refused"
        s.execute(
            update(t)
            .where(t.c.id == request_id)
            .values(
                status=status,
                decided_by=actor.key_id,
                decided_as=decider,
                decided_at=now,
                note=command.get("note"),
            )
        )
        stored = s.execute(select(t).where(t.c.id == request_id)).one()
        if status == "confirmed":
            codes = sorted({*json.loads(account.credit_codes), row.credit_code})
            s.execute(
                update(persons)
                .where(persons.c.person_id == row.person_id)
                .values(credit_codes=json.dumps(codes))
            )
            account = s.execute(select(persons).where(persons.c.person_id == row.person_id)).one()
            uow.emit(announce(contract.person_updated, account, actor, now, correlation_id))
        uow.emit(_changed(stored, account.unit, actor.key_id, now, correlation_id))
        uow.commit()
    return request_view(stored, account)


def requests(uow: UnitOfWork, actor: Principal, query: dict[str, Any]) -> dict[str, Any]:
    """The requests the caller may decide — or an enterprise user's own and those for its
    enterprises — newest first, ``status`` ``requested`` by default."""
    t = enterprise_bindings
    status = query.get("status", "requested")
    stmt = (
        select(t, persons.c.unit, persons.c.name)
        .join(persons, persons.c.person_id == t.c.person_id)
        .where(t.c.status == status)
        .order_by(t.c.requested_at.desc(), t.c.id.desc())
    )
    if actor.is_enterprise:
        me = actor.key_id.removeprefix("person:")
        codes = list(actor.credit_codes)
        stmt = stmt.where((t.c.person_id == me) | t.c.credit_code.in_(codes or [""]))
    else:
        stmt = stmt.where(persons.c.unit.startswith(subtree_prefix(actor.jurisdiction)))
    with uow.read() as s:
        rows = s.execute(stmt.limit(500)).all()
    return {
        "items": [
            request_view(r, r)
            for r in rows
            if actor.is_enterprise or (actor.role in OFFICE and actor.can_see(r.unit))
        ]
    }


def _decider(actor: Principal, code: str, account: Any) -> str | None:
    """How ``actor`` may decide a request for ``code`` by ``account``: as the office of the
    account's unit, as the enterprise's registered contact, or not at all."""
    if actor.is_enterprise:
        return "contact" if actor.acts_for(code) else None
    if actor.role in OFFICE and actor.can_see(account.unit):
        return "office"
    return None


def request_view(row: Any, account: Any) -> dict[str, Any]:
    return {
        "request_id": row.id,
        "person_id": row.person_id,
        "name": account.name,
        "unit": account.unit,
        "credit_code": row.credit_code,
        "status": row.status,
        "requested_at": row.requested_at,
        "decided_by": row.decided_by,
        "decided_as": row.decided_as,
        "decided_at": row.decided_at,
        "note": row.note,
    }


def _changed(row: Any, unit: str, actor: str, now: datetime, cid: str | None) -> Any:
    payload = {
        "request_id": row.id,
        "person_id": row.person_id,
        "credit_code": row.credit_code,
        "status": row.status,
        "decided_as": row.decided_as,
        "note": row.note,
        "actor": actor,
        "at": now.isoformat(),
    }
    return contract.person_binding_changed(jurisdiction=unit, payload=payload, correlation_id=cid)
