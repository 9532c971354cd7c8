"""Who a person is at a province's identity platform: a security administrator links an
account to the platform's ``(issuer, subject)``, and a single sign-on (``sso``) with that
subject signs the account in. Nothing is created from the platform's word alone: an
account exists first, made by a security administrator (``people``), and is linked here.

A security administrator reads an account with its identities (``person_with_identities``)
and unlinks one (``unlink_identity``): the person then signs on with it no more. Each link
and unlink is a ``person.identity_changed`` event naming the issuer, the subject and who
acted: the archive keeps it with the account's other changes. The account itself — and so
every token of it — is unchanged."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.exc import IntegrityError

from services.directory.models import person_identities, persons
from services.directory.people import managed_account
from services.directory.signin import person_view
from shared.auth import Principal
from shared.contracts import directory as contract
from shared.db import UnitOfWork
from shared.usecases import Conflict, Invalid, NotFound


def identities_of(s: Any, person_id: str) -> list[dict[str, Any]]:
    """The identities linked to an account, oldest first."""
    rows = s.execute(
        select(person_identities)
        .where(person_identities.c.person_id == person_id)
        .order_by(person_identities.c.id)
    )
    return [
        {
            "identity_id": r.id,
            "issuer": r.issuer,
            "subject": r.subject,
            "linked_by": r.linked_by,
            "linked_at": r.linked_at,
        }
        for r in rows
    ]


def link_identity(
    uow: UnitOfWork,
    actor: Principal,
    person_id: str,
    command: dict[str, Any],
    *,
    issuer: str | None = None,
    correlation_id: str | None = None,
) -> dict[str, Any]:
    """Link ``command``'s ``issuer`` and ``subject`` to an account of the actor's subtree
    (security administrators); the answer is the account with its identities. When single
    sign-on is configured (``issuer``), only that platform's identities are taken. One
    subject of one platform is one account (409 otherwise)."""
    given = command["issuer"]
    if issuer is not None and given != issuer:
        raise Invalid.field("issuer", f"not the configured identity platform ({issuer})")
    now = datetime.now(UTC)
    with uow:
        s = uow.session
        row = managed_account(s, actor, person_id)
        try:
            s.execute(
                person_identities.insert().values(
                    issuer=given,
                    subject=command["subject"],
                    person_id=person_id,
                    linked_by=actor.key_id,
                    linked_at=now,
                )
            )
            s.flush()
        except IntegrityError:
            raise Conflict(
                "This identity is linked to an account already.",
                fields={"json": {"subject": ["linked already"]}},
            ) from None
        uow.emit(changed(row, given, command["subject"], True, actor, now, correlation_id))
        answer = {**person_view(row), "identities": identities_of(s, person_id)}
        uow.commit()
    return answer


def person_with_identities(uow: UnitOfWork, actor: Principal, person_id: str) -> dict[str, Any]:
    """An account of the actor's subtree with its linked identities (account managers)."""
    with uow.read() as s:
        row = managed_account(s, actor, person_id)
        return {**person_view(row), "identities": identities_of(s, person_id)}


def unlink_identity(
    uow: UnitOfWork,
    actor: Principal,
    person_id: str,
    identity_id: int,
    *,
    correlation_id: str | None = None,
) -> dict[str, Any]:
    """Unlink one of an account's identities (account managers): single sign-on with it
    signs in no more. The answer is the account with the identities left."""
    now = datetime.now(UTC)
    t = person_identities
    with uow:
        s = uow.session
        row = managed_account(s, actor, person_id)
        link = s.execute(select(t).where(t.c.id == identity_id, t.c.person_id == person_id)).first()
        if link is None:
            raise NotFound(f"{person_id} has no identity {identity_id}.")
        s.execute(delete(t).where(t.c.id == identity_id))
        uow.emit(changed(row, link.issuer, link.subject, False, actor, now, correlation_id))
        answer = {**person_view(row), "identities": identities_of(s, person_id)}
        uow.commit()
    return answer


def changed(
    row: Any,
    issuer: str,
    subject: str,
    linked: bool,
    actor: Principal,
    now: datetime,
    cid: str | None,
) -> Any:
    payload = {
        "person_id": row.person_id,
        "issuer": issuer,
        "subject": subject,
        "linked": linked,
        "actor": actor.key_id,
        "at": now.isoformat(),
    }
    return contract.person_identity_changed(
        jurisdiction=row.unit, payload=payload, correlation_id=cid
    )


def linked_person(s: Any, issuer: str, subject: str) -> Any:
    """The account linked to ``subject`` at ``issuer`` (a ``persons`` row), or None."""
    return s.execute(
        select(persons)
        .join(person_identities, person_identities.c.person_id == persons.c.person_id)
        .where(person_identities.c.issuer == issuer, person_identities.c.subject == subject)
    ).first()
