"""Who a person is at a province's identity platform: a security administrator links an
account to the platform's ``(issuer, subject)``, and a single sign-on (``sso``) with that
subject signs the account in. Nothing is created from the platform's word alone: an
account exists first, made by a security administrator (``people``), and is linked here.

A link is announced as ``person.updated`` (who linked, when): the archive keeps it with the
account's other changes."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from services.directory.models import person_identities, persons
from services.directory.people import announce, managed_account
from services.directory.signin import person_view
from shared.auth import Principal
from shared.contracts import directory as contract
from shared.db import UnitOfWork
from shared.usecases import Conflict, Invalid


def identities_of(s: Any, person_id: str) -> list[dict[str, Any]]:
    """The identities linked to an account, oldest first."""
    rows = s.execute(
        select(person_identities)
        .where(person_identities.c.person_id == person_id)
        .order_by(person_identities.c.id)
    )
    return [
        {
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
        uow.emit(announce(contract.person_updated, row, actor, now, correlation_id))
        answer = {**person_view(row), "identities": identities_of(s, person_id)}
        uow.commit()
    return answer


def linked_person(s: Any, issuer: str, subject: str) -> Any:
    """The account linked to ``subject`` at ``issuer`` (a ``persons`` row), or None."""
    return s.execute(
        select(persons)
        .join(person_identities, person_identities.c.person_id == persons.c.person_id)
        .where(person_identities.c.issuer == issuer, person_identities.c.subject == subject)
    ).first()
