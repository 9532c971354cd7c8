"""Idempotency-Key (accepting a demand): a retry with the same key and body gets the
first answer again; another body with the same key is a Conflict. The key is looked up
first (a retry takes no number), and claimed, with the answer, in the transaction that
stores the demand, so two concurrent retries store one."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import bindparam, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from services.intake.models import idempotency_keys
from services.intake.schemas import DemandOut
from shared.auth import Principal
from shared.db import UnitOfWork
from shared.usecases import Conflict


@dataclass(frozen=True)
class IdempotencyKey:
    """An ``Idempotency-Key`` and the fingerprint of the body it came with."""

    key: str
    fingerprint: str

    @classmethod
    def of(cls, key: str, body: Any) -> IdempotencyKey:
        return cls(key, request_fingerprint(body))


class Replayed(Exception):
    """The request repeats an earlier one (same Idempotency-Key and body)."""

    def __init__(self, body: str) -> None:
        super().__init__("idempotent replay")
        self.body = body


def request_fingerprint(body: Any) -> str:
    return hashlib.sha256(
        json.dumps(body, sort_keys=True, ensure_ascii=False, separators=(",", ":")).encode()
    ).hexdigest()


def replay(uow: UnitOfWork, actor: Principal, idempotency: IdempotencyKey) -> str | None:
    """The stored response of an earlier request with this Idempotency-Key, if any."""
    with uow.read() as s:
        return stored_response(s, actor, idempotency)


def stored_response(s: Session, actor: Principal, idempotency: IdempotencyKey) -> str | None:
    """``replay`` in ``s``'s transaction: the stored response, None, or ``Conflict`` when
    the key came with another body."""
    row = s.execute(STORED, {"principal": actor.key_id, "key": idempotency.key}).first()
    if row is None:
        return None
    if row.request_sha256 != idempotency.fingerprint:
        raise Conflict(
            "This Idempotency-Key was used with another request body.",
            code="idempotency_key_reused",
            fields={"headers": {"Idempotency-Key": ["already used with a different body"]}},
        )
    return str(row.response)


# built once: only the values change
STORED = select(idempotency_keys.c.request_sha256, idempotency_keys.c.response).where(
    idempotency_keys.c.principal == bindparam("principal"),
    idempotency_keys.c.key == bindparam("key"),
)
CLAIM = {
    dialect: ignoring(idempotency_keys).on_conflict_do_nothing().returning(idempotency_keys.c.key)
    for dialect, ignoring in (("postgresql", postgresql.insert), ("sqlite", sqlite.insert))
}
ANSWER = DemandOut()


def keep_response(
    uow: UnitOfWork,
    actor: Principal,
    idempotency: IdempotencyKey,
    result: dict[str, Any],
    now: datetime,
) -> None:
    """Claim the Idempotency-Key with its answer, last in the demand's transaction
    (one ``INSERT … ON CONFLICT DO NOTHING``). When the key is taken — an earlier
    request, or a concurrent one that committed first (PostgreSQL's unique index makes
    this one wait for it; SQLite's write lock orders them) — everything this
    transaction did is rolled back and the request answers as the first did
    (``Replayed``), or 409 for another body."""
    claimed = uow.session.execute(
        CLAIM["postgresql" if uow.db.is_postgres else "sqlite"],
        {
            "principal": actor.key_id,
            "key": idempotency.key,
            "request_sha256": idempotency.fingerprint,
            "status": 201,
            "response": json.dumps(ANSWER.dump(result), ensure_ascii=False),
            "created_at": now,
        },
    ).first()
    if claimed is None:
        uow.rollback()
        raise Replayed(replay(uow, actor, idempotency) or "")
