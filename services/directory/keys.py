"""API keys for systems: issued by an administrator for its own subtree, listed without
their secrets, revoked — each change announced (``apikey.*``) so that every service
verifies keys against its own copy. An agency's key is made by dispatch when it admits the
agency (the answer hands it out once) and announced by dispatch; the directory keeps it
with the others and announces it to everyone (``on_agency_key_issued``).
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import select, update

from services.directory.models import api_keys, jurisdictions
from shared.auth import ROLES, Principal, new_key
from shared.contracts import directory as contract
from shared.db import UnitOfWork
from shared.events import Event, subtree_prefix
from shared.usecases import Conflict, Forbidden, Invalid, NotFound

KEY_FIELDS = (
    "key_id",
    "name",
    "role",
    "jurisdiction",
    "agency_id",
    "created_at",
    "revoked_at",
    "expires_at",
    "scopes",
)


def require_admin_of(actor: Principal, code: str) -> None:
    if actor.role != "admin" or not actor.can_see(code):
        raise Forbidden(f"Keys of {code} are managed by its administrators.")


def key_view(row: Any) -> dict[str, Any]:
    """A key as the API shows it: never its secret or its hash."""
    out = {k: row[k] for k in KEY_FIELDS}
    out["scopes"] = json.loads(row["scopes"]) if row["scopes"] else None
    return out


def key_payload(row: dict[str, Any], actor: str) -> dict[str, Any]:
    return {
        "key_id": row["key_id"],
        "secret_sha256": row["secret_sha256"],
        "name": row["name"],
        "role": row["role"],
        "jurisdiction": row["jurisdiction"],
        "agency_id": row.get("agency_id"),
        "created_at": row["created_at"].isoformat(),
        "revoked_at": row["revoked_at"].isoformat() if row.get("revoked_at") else None,
        "expires_at": row["expires_at"].isoformat() if row.get("expires_at") else None,
        "scopes": json.loads(row["scopes"]) if row.get("scopes") else None,
        "actor": actor,
    }


def issue_key(
    uow: UnitOfWork,
    actor: Principal | None,
    command: dict[str, Any],
    *,
    correlation_id: str | None = None,
) -> dict[str, Any]:
    """A key for a system of one unit in the actor's subtree (``name``, ``role``,
    ``jurisdiction``, ``agency_id`` for an agency's); the key itself is shown once.
    ``actor`` None is the platform's operator (the CLI), bound to no unit."""
    code, role = command["jurisdiction"], command["role"]
    if actor is not None:
        require_admin_of(actor, code)
        if role == "admin" and code == actor.jurisdiction:
            raise Forbidden("An administrator's key is issued by an administrator above.")
    if role not in ROLES:
        raise Invalid.field("role", f"one of {', '.join(ROLES)}")
    if (role == "agency") != bool(command.get("agency_id")):
        raise Invalid.field("agency_id", "an agency key, and only an agency key, names its agency")
    key_id, digest, key = new_key()
    row = {
        "key_id": key_id,
        "secret_sha256": digest,
        "name": command["name"],
        "role": role,
        "jurisdiction": code,
        "agency_id": command.get("agency_id"),
        "created_at": datetime.now(UTC),
        "revoked_at": None,
        "expires_at": None,
        "scopes": json.dumps(sorted(set(command["scopes"]))) if command.get("scopes") else None,
    }
    with uow:
        unit = uow.session.execute(
            select(jurisdictions.c.retired_at).where(jurisdictions.c.code == code)
        ).first()
        if unit is None:
            raise Invalid.field("jurisdiction", f"unknown jurisdiction {code}")
        if unit.retired_at is not None:
            raise Invalid.field("jurisdiction", f"{code} is retired")
        uow.session.execute(api_keys.insert().values(**row))
        uow.emit(
            contract.apikey_issued(
                jurisdiction=code,
                payload=key_payload(row, actor.key_id if actor else "operator"),
                correlation_id=correlation_id,
            )
        )
        uow.commit()
    return {**key_view(row), "key": key}


def list_keys(uow: UnitOfWork, actor: Principal, query: dict[str, Any]) -> dict[str, Any]:
    """Keys of the actor's subtree (or a part of it), never their secrets."""
    root = query.get("jurisdiction") or actor.jurisdiction
    require_admin_of(actor, root)
    t = api_keys
    stmt = select(t).where(t.c.jurisdiction.startswith(subtree_prefix(root))).order_by(t.c.key_id)
    if not query.get("include_revoked"):
        stmt = stmt.where(t.c.revoked_at.is_(None))
    with uow.read() as s:
        rows = [dict(r) for r in s.execute(stmt).mappings() if actor.can_see(r["jurisdiction"])]
    return {"items": [key_view(r) for r in rows]}


def revoke_key(
    uow: UnitOfWork, actor: Principal | None, key_id: str, *, correlation_id: str | None = None
) -> dict[str, Any]:
    """Revoke a key of the actor's subtree (``actor`` None: the operator); every service
    stops accepting it."""
    now = datetime.now(UTC)
    with uow:
        row = uow.session.execute(select(api_keys).where(api_keys.c.key_id == key_id)).first()
        if row is None or (actor is not None and not actor.can_see(row.jurisdiction)):
            raise NotFound(f"No key {key_id} in your subtree.")
        if actor is not None:
            require_admin_of(actor, row.jurisdiction)
        if row.revoked_at is not None:
            raise Conflict(f"Key {key_id} is revoked.")
        uow.session.execute(
            update(api_keys).where(api_keys.c.key_id == key_id).values(revoked_at=now)
        )
        revoked = {**row._mapping, "revoked_at": now}
        uow.emit(
            contract.apikey_revoked(
                jurisdiction=row.jurisdiction,
                payload=key_payload(revoked, actor.key_id if actor else "operator"),
                correlation_id=correlation_id,
            )
        )
        uow.commit()
    return key_view(revoked)


def on_agency_key_issued(event: Event, uow: UnitOfWork) -> None:
    """Dispatch admitted an agency and made its key: keep it and announce it to all."""
    p = event.payload
    known = uow.session.execute(
        select(api_keys.c.key_id).where(api_keys.c.key_id == p["key_id"])
    ).first()
    if known is not None:
        return
    row = {
        "key_id": p["key_id"],
        "secret_sha256": p["secret_sha256"],
        "name": p["name"],
        "role": "agency",
        "jurisdiction": p["jurisdiction"],
        "agency_id": p["agency_id"],
        "created_at": datetime.fromisoformat(p["created_at"]),
        "revoked_at": None,
    }
    uow.session.execute(api_keys.insert().values(**row))
    uow.emit(
        contract.apikey_issued(
            jurisdiction=row["jurisdiction"],
            payload=key_payload(row, p["actor"]),
            correlation_id=event.correlation_id,
        )
    )


ROTATION_OVERLAP_DAYS = 7  # how long a rotated key keeps working beside its successor


def rotate_key(
    uow: UnitOfWork,
    actor: Principal | None,
    key_id: str,
    *,
    overlap_days: int = ROTATION_OVERLAP_DAYS,
    correlation_id: str | None = None,
) -> dict[str, Any]:
    """A successor for a key (same name, role, unit, agency and scopes), shown once; the
    old key keeps working for ``overlap_days`` (0: no more), so the system can switch
    without a gap. Both are announced (``apikey.issued``, ``apikey.rotated``)."""
    now = datetime.now(UTC)
    with uow:
        s = uow.session
        old = s.execute(select(api_keys).where(api_keys.c.key_id == key_id)).mappings().first()
        if old is None or (actor is not None and not actor.can_see(old["jurisdiction"])):
            raise NotFound(f"No key {key_id} in your subtree.")
        if actor is not None:
            require_admin_of(actor, old["jurisdiction"])
        if old["revoked_at"] is not None:
            raise Conflict(f"Key {key_id} is revoked.")
        if old["expires_at"] is not None and old["expires_at"] <= now:
            raise Conflict(f"Key {key_id} has expired.")
        ends = now + timedelta(days=overlap_days)
        if old["expires_at"] is not None:
            ends = min(ends, old["expires_at"])
        s.execute(update(api_keys).where(api_keys.c.key_id == key_id).values(expires_at=ends))
        new_id, digest, key = new_key()
        row = {
            **{k: old[k] for k in ("name", "role", "jurisdiction", "agency_id", "scopes")},
            "key_id": new_id,
            "secret_sha256": digest,
            "created_at": now,
            "revoked_at": None,
            "expires_at": None,
        }
        s.execute(api_keys.insert().values(**row))
        who = actor.key_id if actor else "operator"
        uow.emit(
            contract.apikey_issued(
                jurisdiction=row["jurisdiction"],
                payload=key_payload(row, who),
                correlation_id=correlation_id,
            )
        )
        uow.emit(
            contract.apikey_rotated(
                jurisdiction=old["jurisdiction"],
                payload=key_payload({**old, "expires_at": ends}, who),
                correlation_id=correlation_id,
            )
        )
        uow.commit()
    return {**key_view(row), "key": key, "replaces": key_id, "old_key_ends": ends}
