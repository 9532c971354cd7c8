"""Intake use cases of callbacks (``services.intake.callbacks``): a key registers the URL
that receives every status change of the demands it filed, reads its delivery log and
re-sends one; and the delivery a status change leaves in its own transaction.

A callback belongs to the key that calls (``Principal.key_id``, a demand's
``accepted_by``): one URL per key, its signing secret made here and shown once, kept
sealed (``shared.sealing``) because it must sign again. Registering again replaces the
URL and the secret.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import bindparam, delete, insert, select, update

from services.intake.callbacks import Reach, new_secret, url_error
from services.intake.models import callback_deliveries, callback_subscriptions
from shared import sealing
from shared.auth import Principal
from shared.config import Settings
from shared.db import UnitOfWork, upsert
from shared.events import Event
from shared.pagination import cursor_key, encode_cursor
from shared.usecases import Conflict, Invalid, NotFound

_sealer: sealing.Sealer | None = None


def configure(settings: Settings) -> sealing.Sealer:
    """Intake's sealer, from the settings (``services.intake.build`` calls it)."""
    global _sealer
    _sealer = sealing.sealer(settings, "intake")
    return _sealer


def sealer() -> sealing.Sealer:
    """The configured sealer (a process-local key when none was configured: tests)."""
    global _sealer
    if _sealer is None:
        _sealer = sealing.throwaway()
    return _sealer


S, D = callback_subscriptions.c, callback_deliveries.c


def _subscription(row: Any, secret: str | None = None) -> dict[str, Any]:
    out = {"url": row.url, "created_at": row.created_at, "updated_at": row.updated_at}
    if secret is not None:
        out["secret"] = secret
    return out


def register(
    uow: UnitOfWork,
    actor: Principal,
    command: dict[str, Any],
    *,
    loopback_http: bool = False,
    reach: Reach | None = None,
) -> dict[str, Any]:
    """Register (or replace) the caller's callback URL (``CallbackIn``); a new signing
    secret is made and answered this once. A URL that is not https, or names an address
    ``reach`` refuses, is refused, naming the field (plain http to a loopback address only
    where ``loopback_http``)."""
    url = command["url"].strip()
    problem = url_error(url, loopback_http=loopback_http, reach=reach)
    if problem is not None:
        raise Invalid.field("url", problem)
    secret = new_secret()
    now = datetime.now(UTC)
    with uow:
        known = uow.session.execute(
            select(S.created_at).where(S.key_id == actor.key_id)
        ).scalar_one_or_none()
        values = {
            "url": url,
            "secret": sealer().seal(secret),
            "created_at": known or now,
            "updated_at": now,
        }
        upsert(uow.session, callback_subscriptions, {"key_id": actor.key_id}, values)
        uow.commit()
    return {"url": url, "secret": secret, "created_at": known or now, "updated_at": now}


def get(uow: UnitOfWork, actor: Principal) -> dict[str, Any]:
    """The caller's callback (never its secret)."""
    with uow.read() as s:
        row = s.execute(select(callback_subscriptions).where(S.key_id == actor.key_id)).first()
    if row is None:
        raise NotFound("Your key has no callback registered.")
    return _subscription(row)


def unregister(uow: UnitOfWork, actor: Principal) -> None:
    """Remove the caller's callback; what was waiting for it is dead-lettered (the log
    keeps it, and a re-send after registering again delivers it)."""
    now = datetime.now(UTC)
    with uow:
        gone = uow.session.execute(
            delete(callback_subscriptions).where(S.key_id == actor.key_id).returning(S.key_id)
        ).first()
        if gone is None:
            raise NotFound("Your key has no callback registered.")
        uow.session.execute(
            update(callback_deliveries)
            .where(D.key_id == actor.key_id, D.status == "pending")
            .values(status="dead", settled_at=now, last_error="callback removed")
        )
        uow.commit()


# -- what a status change leaves ------------------------------------------------------
HAS_CALLBACK = select(S.key_id).where(S.key_id == bindparam("key"))
NEW_DELIVERY = insert(callback_deliveries)


def enqueue(uow: UnitOfWork, filed_by: str, demand_code: str, event: Event) -> bool:
    """In the status change's own transaction: a delivery of ``event`` to the callback of
    the key that filed the demand, if it has one. Returns whether one was written."""
    if uow.session.execute(HAS_CALLBACK, {"key": filed_by}).first() is None:
        return False
    uow.session.execute(
        NEW_DELIVERY,
        {
            "key_id": filed_by,
            "demand_code": demand_code,
            "event_id": event.event_id,
            "event_type": event.event_type,
            "body": event.to_json(),
            "status": "pending",
            "attempts": 0,
            "next_attempt_at": event.occurred_at,
            "created_at": event.occurred_at,
        },
    )
    return True


# -- the log and re-sending ----------------------------------------------------------------
def as_delivery(row: Any) -> dict[str, Any]:
    """A delivery as the log shows it (``DeliveryOut``)."""
    return {
        "id": row.id,
        "demand_code": row.demand_code,
        "event_id": row.event_id,
        "event_type": row.event_type,
        "status": row.status,
        "attempts": row.attempts,
        "next_attempt_at": row.next_attempt_at if row.status == "pending" else None,
        "created_at": row.created_at,
        "settled_at": row.settled_at,
        "last_status": row.last_status,
        "last_error": row.last_error,
        "resend_of": row.resend_of,
        "event": json.loads(row.body),
    }


def _cursor(key: list[Any]) -> list[Any]:
    return [int(key[0])]


def log(uow: UnitOfWork, actor: Principal, args: dict[str, Any]) -> dict[str, Any]:
    """The caller's deliveries, newest first (``DeliveryListArgs``: status, demand_code,
    limit, cursor)."""
    q = select(callback_deliveries).where(D.key_id == actor.key_id)
    if args.get("status"):
        q = q.where(D.status == args["status"])
    if args.get("demand_code"):
        q = q.where(D.demand_code == args["demand_code"])
    after = cursor_key(args.get("cursor"), 1, _cursor)
    if after is not None:
        q = q.where(D.id < after[0])
    limit = args["limit"]
    with uow.read() as s:
        rows = s.execute(q.order_by(D.id.desc()).limit(limit + 1)).all()
    items = [as_delivery(r) for r in rows[:limit]]
    more = len(rows) > limit
    return {"items": items, "next_cursor": encode_cursor([items[-1]["id"]]) if more else None}


RESENDABLE = ("delivered", "dead")


def resend(uow: UnitOfWork, actor: Principal, delivery_id: int) -> dict[str, Any]:
    """Deliver a delivered or dead-lettered change again: a new delivery in the log
    (``resend_of`` the first), queued behind what is pending for that demand, with the
    same ``webhook-id``. A pending one, or one whose re-send is still pending, is a 409."""
    now = datetime.now(UTC)
    with uow:
        q = select(callback_deliveries).where(D.id == delivery_id, D.key_id == actor.key_id)
        if uow.db.is_postgres:  # two re-sends of one delivery at once: one waits
            q = q.with_for_update()
        row = uow.session.execute(q).first()
        if row is None:
            raise NotFound(f"No delivery {delivery_id} of your key.")
        if row.status not in RESENDABLE:
            raise Conflict(
                f"Delivery {delivery_id} is still pending; it is re-sent only once delivered "
                "or dead-lettered.",
                code="delivery_pending",
            )
        again = uow.session.execute(
            select(D.id).where(D.resend_of == delivery_id, D.status == "pending")
        ).first()
        if again is not None:
            raise Conflict(
                f"Delivery {delivery_id} is already being re-sent (delivery {again.id}).",
                code="delivery_pending",
            )
        if uow.session.execute(HAS_CALLBACK, {"key": actor.key_id}).first() is None:
            raise Conflict("Register a callback first.", code="no_callback")
        new_id = uow.session.execute(
            insert(callback_deliveries)
            .values(
                key_id=row.key_id,
                demand_code=row.demand_code,
                event_id=row.event_id,
                event_type=row.event_type,
                body=row.body,
                status="pending",
                attempts=0,
                next_attempt_at=now,
                created_at=now,
                resend_of=row.id,
            )
            .returning(D.id)
        ).scalar_one()
        uow.commit()
    with uow.read() as s:
        made = s.execute(select(callback_deliveries).where(D.id == new_id)).one()
    return as_delivery(made)
