"""The callbacks' delivery job: intake's worker runs it every ``ONESTOP_CALLBACK_INTERVAL``
seconds (``services.intake.worker.periodic``), and each run delivers every delivery that is
due, until none is left.

* **In order per demand.** Only the head of each (key, demand) queue is due: a delivery
  waits while an earlier one of the same demand is pending, so a later change is never
  sent before an earlier one is delivered or dead-lettered.
* **Once at a time.** A delivery is claimed in the database before it is sent — with
  ``FOR UPDATE SKIP LOCKED`` on PostgreSQL and a ``claimed_until`` lease that only an
  expired lease lets another run take — so several workers never send one change at the
  same time. The lease outlives the request's timeout; a worker that dies while sending
  leaves it to expire, and the change is sent again: delivery is at least once (the
  receiver drops a ``webhook-id`` it has seen).
* **Nothing lost.** The deliveries are rows written in the status change's own
  transaction (``subscribing.enqueue``): a worker restart only delays them.

The requests go out on a few threads (one per demand at a time), outside any transaction;
their outcomes are written back in one transaction per round.
"""

from __future__ import annotations

import socket
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urlsplit

import requests
from sqlalchemy import exists, or_, select, update
from sqlalchemy.orm import aliased

from services.intake import subscribing
from services.intake.callbacks import Reach, Schedule, outcome, signed_headers
from services.intake.models import api_keys, callback_deliveries, callback_subscriptions
from shared.config import Settings
from shared.db import UnitOfWork
from shared.runtime import Service

D, S = callback_deliveries.c, callback_subscriptions.c
BATCH = 100  # deliveries claimed per round: each of another demand
THREADS = 8  # requests in flight at once
ROUNDS = 50  # rounds per run at most (the next run goes on)
LEASE_MARGIN = 30.0  # seconds a claim outlives the request's timeout


@dataclass(frozen=True)
class Claimed:
    """A delivery this run holds, with where and how to send it (None: no callback)."""

    id: int
    event_id: str
    body: str
    attempts: int
    url: str | None
    secret: str | None
    gone: str = "callback removed"  # why there is nowhere to send it (url None)


@dataclass(frozen=True)
class Attempt:
    """What one request got: the HTTP status (None: no answer) and why it failed."""

    http_status: int | None
    error: str | None = None


Post = Callable[[str, bytes, dict[str, str], float], int]


def claim(uow: UnitOfWork, now: datetime, lease: datetime, limit: int = BATCH) -> list[Claimed]:
    """Claim up to ``limit`` due deliveries, each the head of its demand's queue, until
    ``lease``; with each its key's URL and opened secret."""
    earlier = aliased(callback_deliveries)
    blocked = exists().where(
        earlier.c.key_id == D.key_id,
        earlier.c.demand_code == D.demand_code,
        earlier.c.status == "pending",
        earlier.c.id < D.id,
    )
    free = or_(D.claimed_until.is_(None), D.claimed_until < now)
    due = (
        select(D.id)
        .where(D.status == "pending", D.next_attempt_at <= now, free, ~blocked)
        .order_by(D.next_attempt_at, D.id)
        .limit(limit)
    )
    with uow:
        if uow.db.is_postgres:
            due = due.with_for_update(skip_locked=True, of=callback_deliveries)
        ids = list(uow.session.execute(due).scalars())
        if not ids:
            return []
        rows = uow.session.execute(
            update(callback_deliveries)
            .where(D.id.in_(ids), D.status == "pending", free)
            .values(claimed_until=lease)
            .returning(D.id, D.key_id, D.event_id, D.body, D.attempts)
        ).all()
        keys = {r.key_id for r in rows}
        subs = {
            s.key_id: s
            for s in uow.session.execute(
                select(S.key_id, S.url, S.secret).where(S.key_id.in_(keys))
            )
        }
        revoked = set(
            # a revoked key hears nothing more (a rotated one goes on hearing of the
            # demands it filed, at its URL, after its overlap ends)
            uow.session.execute(
                select(api_keys.c.key_id).where(
                    api_keys.c.key_id.in_(keys), api_keys.c.revoked_at.is_not(None)
                )
            ).scalars()
        )
        uow.commit()
    out = []
    for r in sorted(rows, key=lambda r: r.id):
        sub = None if r.key_id in revoked else subs.get(r.key_id)
        secret = subscribing.sealer().open(sub.secret) if sub else None
        why = "the key is revoked" if r.key_id in revoked else "callback removed"
        out.append(Claimed(r.id, r.event_id, r.body, r.attempts, sub and sub.url, secret, why))
    return out


def send(post: Post, c: Claimed, timeout: float, now: datetime) -> Attempt:
    """One signed request; never raises."""
    if c.url is None or c.secret is None:
        return Attempt(None, c.gone)
    body = c.body.encode()
    headers = signed_headers(c.secret, c.event_id, int(now.timestamp()), body)
    try:
        status = post(c.url, body, headers, timeout)
    except Exception as exc:
        return Attempt(None, f"{type(exc).__name__}: {exc}"[:500])
    return Attempt(status, None if 200 <= status < 300 else f"HTTP {status}")


def record(
    uow: UnitOfWork,
    results: list[tuple[Claimed, Attempt]],
    now: datetime,
    schedule: Schedule,
) -> None:
    """Write back what each attempt got: delivered, pending again later, or dead."""
    with uow:
        for c, a in results:
            attempts = c.attempts + 1
            o = outcome(a.http_status, attempts, schedule)
            if c.url is None:  # nowhere to send it: dead at once
                o = outcome(None, schedule.attempts, schedule)
            values: dict[str, Any] = {
                "status": o.status,
                "attempts": attempts,
                "claimed_until": None,
                "last_status": a.http_status,
                "last_error": a.error,
            }
            if o.retry_in is not None:
                values["next_attempt_at"] = now + timedelta(seconds=o.retry_in)
            else:
                values["settled_at"] = now
            uow.session.execute(
                update(callback_deliveries)
                .where(D.id == c.id, D.status == "pending")
                .values(**values)
            )
        uow.commit()


_local = threading.local()


class Unreachable(Exception):
    """The receiver's host resolves to an address callbacks may not reach."""


def guarded(reach: Reach, post: Post) -> Post:
    """``post``, after checking every address the URL's host resolves to against
    ``reach`` (an attempt to a refused one fails: ``Unreachable``, retried like any
    other). A host that no longer resolves fails the same way."""

    def checked(url: str, body: bytes, headers: dict[str, str], timeout: float) -> int:
        parts = urlsplit(url)
        port = parts.port or (443 if parts.scheme == "https" else 80)
        for *_, sockaddr in socket.getaddrinfo(parts.hostname, port, type=socket.SOCK_STREAM):
            problem = reach.address_error(str(sockaddr[0]).split("%", 1)[0])
            if problem is not None:
                raise Unreachable(f"{parts.hostname}: {problem}")
        return post(url, body, headers, timeout)

    return checked


def http_post(url: str, body: bytes, headers: dict[str, str], timeout: float) -> int:
    """POST with ``requests`` (a kept-alive session per thread), never following a
    redirect: a receiver answers where it was registered."""
    session = getattr(_local, "session", None)
    if session is None:
        session = _local.session = requests.Session()
    r = session.post(url, data=body, headers=headers, timeout=timeout, allow_redirects=False)
    r.close()
    return r.status_code


def schedule_of(settings: Settings) -> Schedule:
    return Schedule(
        settings.callback_backoff, settings.callback_backoff_cap, settings.callback_attempts
    )


def deliver_due(
    uow: Callable[[], UnitOfWork],
    *,
    schedule: Schedule,
    timeout: float = 10.0,
    post: Post = http_post,
    clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    rounds: int = ROUNDS,
) -> int:
    """Deliver what is due, round after round (a round: claim, send, record) until none
    is due or ``rounds`` are done; returns the attempts made."""
    made = 0
    with ThreadPoolExecutor(THREADS, thread_name_prefix="callback") as pool:
        for _ in range(rounds):
            now = clock()
            lease = now + timedelta(seconds=timeout + LEASE_MARGIN)
            held = claim(uow(), now, lease)
            if not held:
                break
            attempts = list(pool.map(lambda c: send(post, c, timeout, clock()), held))
            record(uow(), list(zip(held, attempts, strict=True)), clock(), schedule)
            made += len(held)
    return made


def run(svc: Service) -> int:
    """The worker's periodic job: deliver the callbacks that are due."""
    s = svc.settings
    reach = Reach.of(s.callback_loopback_http, s.callback_private_networks)
    return deliver_due(
        svc.uow,
        schedule=schedule_of(s),
        timeout=s.callback_timeout,
        post=guarded(reach, http_post),
    )


def every(settings: Settings) -> float:
    """Seconds between the job's runs (``ONESTOP_CALLBACK_INTERVAL``, default 1)."""
    return settings.callback_interval
