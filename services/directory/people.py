"""People's accounts: created by a security administrator (or a system's administrator
key) for a unit of their subtree, with roles, a password that meets the rule, and — for the
three administrator roles, kept apart (三员分立) — a second factor. Every change is an
event (``person.created``, ``person.updated``); no password or secret ever leaves here.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from services.directory import sealing, totp
from services.directory.models import jurisdictions, persons
from services.directory.passwords import Hasher, problems
from services.directory.signin import person_view
from shared.auth import Principal
from shared.contracts import directory as contract
from shared.db import UnitOfWork
from shared.events import subtree_prefix
from shared.usecases import Conflict, Forbidden, Invalid, NotFound

PERSON_ID = r"^[a-z][a-z0-9._-]{2,39}$"


def require_account_manager(actor: Principal, unit: str) -> None:
    """A security administrator (a person), or an administrator's API key, of ``unit`` or
    above. A system administrator or an auditor manages no accounts (三员分立)."""
    manager = "secadmin" in actor.roles or (not actor.roles and actor.role == "admin")
    if not manager or not actor.can_see(unit):
        raise Forbidden(f"Accounts of {unit} are managed by its security administrators.")


def managed_account(s: Session, actor: Principal, person_id: str) -> Any:
    """The account ``person_id`` when it is in the actor's subtree and the actor manages
    accounts there; NotFound (the same for an account elsewhere) or Forbidden otherwise."""
    row = s.execute(select(persons).where(persons.c.person_id == person_id)).first()
    if row is None or not actor.can_see(row.unit):
        raise NotFound(f"No account {person_id} in your subtree.")
    require_account_manager(actor, row.unit)
    return row


def role_problem(command: dict[str, Any]) -> tuple[str, str] | None:
    """``(field, why)`` when the roles or their bindings do not fit together."""
    roles = command["roles"]
    if len(set(roles) & set(contract.ADMIN_ROLES)) > 1:
        return "roles", "system, security and audit administration are held by different people"
    if ("agency_clerk" in roles) != bool(command.get("agency_id")):
        return "agency_id", "an agency clerk, and only an agency clerk, names the agency"
    if ("enterprise" in roles) != bool(command.get("credit_codes")):
        return "credit_codes", "an enterprise user, and only one, names its enterprises"
    return None


def create_person(
    uow: UnitOfWork,
    actor: Principal | None,
    command: dict[str, Any],
    *,
    hasher: Hasher,
    correlation_id: str | None = None,
) -> dict[str, Any]:
    """An account (``person_id``, ``name``, ``unit``, ``roles``, ``password`` and the role's
    bindings). For an administrator role the answer carries the second factor's secret
    and its ``otpauth://`` URI, shown this once. ``actor`` None is the operator."""
    if actor is not None:
        require_account_manager(actor, command["unit"])
    problem = role_problem(command)
    if problem:
        raise Invalid.field(*problem)
    row, secret = new_account(command, hasher)
    now = row["created_at"]
    with uow:
        stored = store_account(uow.session, row)
        uow.emit(announce(contract.person_created, stored, actor, now, correlation_id))
        uow.commit()
    answer = person_view(stored)
    if secret:
        answer["second_factor_secret"] = secret
        answer["second_factor_uri"] = totp.provisioning_uri(secret, row["person_id"])
    return answer


def new_account(command: dict[str, Any], hasher: Hasher) -> tuple[dict[str, Any], str | None]:
    """The ``persons`` row of a new account, and its second factor's secret (administrator
    roles); Invalid naming each rule the password breaks."""
    person_id = command["person_id"].lower()
    broken = problems(command["password"], person_id)
    if broken:
        raise Invalid("The password breaks the rule.", fields={"json": {"password": broken}})
    now = datetime.now(UTC)
    secret = totp.new_secret() if set(command["roles"]) & set(contract.ADMIN_ROLES) else None
    row = {
        "person_id": person_id,
        "name": command["name"],
        "unit": command["unit"],
        "roles": json.dumps(sorted(set(command["roles"]))),
        "agency_id": command.get("agency_id"),
        "staff_id": command.get("staff_id"),
        "credit_codes": json.dumps(sorted(set(command.get("credit_codes") or []))),
        "password_hash": hasher.hash(command["password"]),
        "password_changed_at": now,
        "totp_secret": sealing.current().seal(secret) if secret else None,
        "created_at": now,
    }
    return row, secret


def store_account(s: Session, row: dict[str, Any]) -> Any:
    """Insert a new account in an open unit (Invalid otherwise; Conflict when the log-in
    name is taken) and return it as stored."""
    unit = row["unit"]
    found = s.execute(
        select(jurisdictions.c.retired_at).where(jurisdictions.c.code == unit)
    ).first()
    if found is None or found.retired_at is not None:
        raise Invalid.field("unit", f"{unit} is not an open unit")
    try:
        s.execute(persons.insert().values(**row))
        s.flush()
    except IntegrityError:
        raise Conflict(
            f"{row['person_id']} is taken.", fields={"json": {"person_id": ["taken"]}}
        ) from None
    return s.execute(select(persons).where(persons.c.person_id == row["person_id"])).one()


def announce(
    build: Any, row: Any, actor: Principal | str | None, now: datetime, cid: str | None
) -> Any:
    """The account's event; ``actor`` a principal, a name (a person registering), or None
    (the operator)."""
    view = person_view(row)
    payload = {k: view[k] for k in ("person_id", "name", "unit", "roles", "agency_id", "staff_id")}
    by = actor.key_id if isinstance(actor, Principal) else actor
    payload.update(
        credit_codes=view["credit_codes"],
        disabled=view["disabled"],
        actor=by or "operator",
        at=now.isoformat(),
    )
    return build(jurisdiction=row.unit, payload=payload, correlation_id=cid)


def list_people(uow: UnitOfWork, actor: Principal, query: dict[str, Any]) -> dict[str, Any]:
    """Accounts of a subtree (the actor's by default)."""
    root = query.get("unit") or actor.jurisdiction
    require_account_manager(actor, root)
    stmt = (
        select(persons)
        .where(persons.c.unit.startswith(subtree_prefix(root)))
        .order_by(persons.c.person_id)
    )
    with uow.read() as s:
        rows = [r for r in s.execute(stmt) if actor.can_see(r.unit)]
    return {"items": [person_view(r) for r in rows]}


def set_disabled(
    uow: UnitOfWork,
    actor: Principal,
    person_id: str,
    disabled: bool,
    *,
    correlation_id: str | None = None,
) -> dict[str, Any]:
    """Disable an account (it signs in no more; its sessions are refused at the next
    refresh, and every service refuses its access tokens once it has consumed the
    ``person.updated``: ``shared.directory``) or enable it again."""
    now = datetime.now(UTC)
    with uow:
        s = uow.session
        managed_account(s, actor, person_id)
        if actor.key_id == f"person:{person_id}":
            raise Forbidden("Nobody disables their own account.")
        s.execute(
            update(persons)
            .where(persons.c.person_id == person_id)
            .values(disabled_at=now if disabled else None)
        )
        stored = s.execute(select(persons).where(persons.c.person_id == person_id)).one()
        uow.emit(announce(contract.person_updated, stored, actor, now, correlation_id))
        uow.commit()
    return person_view(stored)


def change_password(
    uow: UnitOfWork,
    actor: Principal,
    command: dict[str, Any],
    *,
    hasher: Hasher,
    correlation_id: str | None = None,
) -> dict[str, Any]:
    """A person changes their own password (定期更换): the current one first, then a new one
    that meets the rule and is not the current one. Nobody else's."""
    if not actor.is_person:
        raise Forbidden("Only a person has a password to change.")
    person_id = actor.key_id.removeprefix("person:")
    new = command["new_password"]
    now = datetime.now(UTC)
    with uow:
        s = uow.session
        row = s.execute(select(persons).where(persons.c.person_id == person_id)).first()
        if row is None or not hasher.verify(row.password_hash, command["current_password"]).ok:
            raise Invalid.field("current_password", "not your current password")
        broken = problems(new, person_id)
        if hasher.verify(row.password_hash, new).ok:
            broken.append("the same as the current password")
        if broken:
            raise Invalid(
                "The password breaks the rule.", fields={"json": {"new_password": broken}}
            )
        s.execute(
            update(persons)
            .where(persons.c.person_id == person_id)
            .values(password_hash=hasher.hash(new), password_changed_at=now)
        )
        stored = s.execute(select(persons).where(persons.c.person_id == person_id)).one()
        uow.emit(announce(contract.person_updated, stored, actor, now, correlation_id))
        uow.commit()
    return person_view(stored)


def change_roles(
    uow: UnitOfWork,
    actor: Principal,
    person_id: str,
    command: dict[str, Any],
    *,
    correlation_id: str | None = None,
) -> dict[str, Any]:
    """A security administrator changes an account's roles (and their bindings); the
    separation of the three administrators holds; nobody changes their own. A new
    administrator role brings a second factor, whose secret is shown once."""
    now = datetime.now(UTC)
    with uow:
        s = uow.session
        row = managed_account(s, actor, person_id)
        if actor.key_id == f"person:{person_id}":
            raise Forbidden("Nobody changes their own roles.")
        wanted = {
            "roles": command["roles"],
            "agency_id": command.get("agency_id", row.agency_id),
            "credit_codes": command.get("credit_codes", json.loads(row.credit_codes)),
        }
        problem = role_problem(wanted)
        if problem:
            raise Invalid.field(*problem)
        secret = None
        admin = set(wanted["roles"]) & set(contract.ADMIN_ROLES)
        if admin and not row.totp_secret:
            secret = totp.new_secret()
        values: dict[str, Any] = {
            "roles": json.dumps(sorted(set(wanted["roles"]))),
            "agency_id": wanted["agency_id"] if "agency_clerk" in wanted["roles"] else None,
            "credit_codes": json.dumps(
                sorted(set(wanted["credit_codes"] or [])) if "enterprise" in wanted["roles"] else []
            ),
        }
        if secret:
            values["totp_secret"] = sealing.current().seal(secret)
        s.execute(update(persons).where(persons.c.person_id == person_id).values(**values))
        stored = s.execute(select(persons).where(persons.c.person_id == person_id)).one()
        uow.emit(announce(contract.person_updated, stored, actor, now, correlation_id))
        uow.commit()
    answer = person_view(stored)
    if secret:
        answer["second_factor_secret"] = secret
        answer["second_factor_uri"] = totp.provisioning_uri(secret, person_id)
    return answer
