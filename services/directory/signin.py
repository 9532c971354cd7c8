"""Signing in, staying in, signing out — and the keys access tokens are signed with.

A person signs in with a log-in name and password (argon2id, ``passwords``), plus a TOTP
code when one of the three administrator roles is theirs (``totp``). Repeated failures lock
the account with back-off (``lockout``); every log-in, refusal and sign-out is an event the
archive keeps. A successful log-in opens a session and answers with:

* a short-lived **access token** (ES256 JWT, ``shared.tokens``) every service verifies on
  its own against the public keys the directory announces (``signing_key.published``);
* a **refresh token** (kept as its SHA-256) that buys a new access token — and a new refresh
  token, the old one then refused — until the session is idle or reaches its absolute end.

A single sign-on at a province's identity platform (``sso``) opens its session the same
way (``open_session``), announced with the reason "sso".

Signing keys rotate without downtime: a new key is announced and signs from then on; an
older one stays published until every token it signed has expired (``retire_old_keys``).
"""

from __future__ import annotations

import hashlib
import json
import secrets
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from services.directory import lockout, sealing, totp
from services.directory.models import person_sessions, persons, signing_keys, signing_secrets
from services.directory.passwords import DEFAULT_POLICY, Hasher, change_due
from shared import tokens
from shared.auth import Principal, api_role
from shared.contracts import directory as contract
from shared.db import UnitOfWork
from shared.directory import TOKEN_AUDIENCE, TOKEN_ISSUER
from shared.events import NATION
from shared.usecases import Unauthenticated

ISSUER, AUDIENCE = TOKEN_ISSUER, TOKEN_AUDIENCE
REFUSED = "Wrong log-in name or password."  # the same words whatever was wrong


@dataclass(frozen=True)
class Credentials:
    username: str
    password: str
    totp: str | None = None


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


# --- signing keys -------------------------------------------------------------------------


def signing_key(uow: UnitOfWork, now: datetime) -> tokens.SigningKey:
    """The key that signs now: the newest one not retired, made (and announced) when there
    is none. Call inside the unit of work."""
    s = uow.session
    row = s.execute(
        select(signing_keys, signing_secrets.c.private_jwk)
        .join(signing_secrets, signing_secrets.c.kid == signing_keys.c.kid)
        .where(signing_keys.c.retired_at.is_(None))
        .order_by(signing_keys.c.created_at.desc())
        .limit(1)
    ).first()
    if row is not None:
        return tokens.SigningKey(
            row.kid,
            json.loads(sealing.current().open(row.private_jwk)),
            json.loads(row.public_jwk),
            row.created_at,
        )
    return rotate_key(uow, now)


def rotate_key(uow: UnitOfWork, now: datetime) -> tokens.SigningKey:
    """A new signing key, stored and announced; it signs from now on."""
    key = tokens.new_signing_key(now)
    s = uow.session
    s.execute(
        signing_keys.insert().values(
            kid=key.kid, public_jwk=json.dumps(key.public_jwk), created_at=now
        )
    )
    sealed = sealing.current().seal(json.dumps(key.private_jwk))
    s.execute(signing_secrets.insert().values(kid=key.kid, private_jwk=sealed))
    uow.emit(
        contract.signing_key_published(
            jurisdiction=NATION,
            payload={"kid": key.kid, "public_jwk": key.public_jwk, "created_at": now.isoformat()},
        )
    )
    return key


def retire_old_keys(
    uow: UnitOfWork, now: datetime, policy: lockout.SessionPolicy = lockout.DEFAULT_SESSION
) -> list[str]:
    """Retire every key but the newest once the newest has signed for longer than an
    access token lives (no token of theirs is still valid); announce each retirement."""
    with uow:
        live = uow.session.execute(
            select(signing_keys)
            .where(signing_keys.c.retired_at.is_(None))
            .order_by(signing_keys.c.created_at.desc())
        ).all()
        if len(live) < 2 or now < live[0].created_at + policy.access_token:
            return []
        retired = []
        for old in live[1:]:
            uow.session.execute(
                update(signing_keys).where(signing_keys.c.kid == old.kid).values(retired_at=now)
            )
            uow.emit(
                contract.signing_key_retired(
                    jurisdiction=NATION,
                    payload={
                        "kid": old.kid,
                        "public_jwk": json.loads(old.public_jwk),
                        "created_at": old.created_at.isoformat(),
                        "retired_at": now.isoformat(),
                    },
                )
            )
            retired.append(old.kid)
        uow.commit()
    return retired


def public_keys(uow: UnitOfWork) -> dict[str, Any]:
    """The JWK Set of the keys tokens may be signed with (``/.well-known/jwks.json``)."""
    with uow.read() as s:
        rows = s.execute(
            select(signing_keys.c.public_jwk)
            .where(signing_keys.c.retired_at.is_(None))
            .order_by(signing_keys.c.created_at)
        ).scalars()
        return {"keys": [json.loads(r) for r in rows]}


# --- signing in ---------------------------------------------------------------------------


def security_event(person: Any, outcome: str, reason: str, now: datetime, **more: Any) -> Any:
    build = {
        "signed_in": contract.person_signed_in,
        "signed_out": contract.person_signed_out,
    }.get(outcome, contract.person_sign_in_refused)
    payload = {"person_id": person.person_id, "outcome": outcome, "reason": reason}
    return build(jurisdiction=person.unit, payload={**payload, **more, "at": now.isoformat()})


def _second_factor_problem(person: Any, code: str | None, now: datetime) -> str | None:
    """Why the second factor fails (None: it passes, or the person needs none)."""
    roles = json.loads(person.roles)
    if not any(r in contract.ADMIN_ROLES for r in roles):
        return None
    if not person.totp_secret:
        return "no second factor enrolled"
    secret = sealing.current().open(person.totp_secret)
    step = totp.check(secret, code or "", now, person.totp_last_step)
    return None if step is not None else "wrong or reused second-factor code"


def sign_in(
    uow: UnitOfWork,
    credentials: Credentials,
    *,
    hasher: Hasher,
    now: datetime | None = None,
    locking: lockout.LockoutPolicy = lockout.DEFAULT_LOCKOUT,
    sessions: lockout.SessionPolicy = lockout.DEFAULT_SESSION,
) -> dict[str, Any]:
    """A new session with its tokens; ``Unauthenticated`` (with the same words for every
    cause) otherwise — the failure counted, the account locked after too many."""
    now = now or datetime.now(UTC)
    person_id = credentials.username.strip().lower()
    with uow:
        s = uow.session
        person = s.execute(select(persons).where(persons.c.person_id == person_id)).first()
        if person is None or person.disabled_at is not None:
            hasher.verify_decoy(credentials.password)
            raise Unauthenticated(REFUSED)
        state = lockout.LockState(person.failures, person.locked_until)
        until = lockout.locked(state, now)
        if until is not None:
            uow.emit(
                security_event(person, "refused", "locked", now, locked_until=until.isoformat())
            )
            uow.commit()
            raise Unauthenticated(f"{REFUSED} The account is locked until {until.isoformat()}.")
        verdict = hasher.verify(person.password_hash, credentials.password)
        problem = "wrong password" if not verdict.ok else None
        problem = problem or _second_factor_problem(person, credentials.totp, now)
        if problem is not None:
            after = lockout.after_failure(state, now, locking)
            _store_failure(s, person_id, after)
            outcome = "locked" if after.locked_until else "refused"
            locked_until = after.locked_until.isoformat() if after.locked_until else None
            uow.emit(
                security_event(
                    person,
                    outcome,
                    problem,
                    now,
                    failures=after.failures,
                    locked_until=locked_until,
                )
            )
            uow.commit()
            raise Unauthenticated(REFUSED)
        _passed(s, person, credentials, verdict.rehash, hasher, now)
        answer = open_session(uow, person, now, reason="password", sessions=sessions)
        uow.commit()
    return answer


def _store_failure(s: Session, person_id: str, after: lockout.LockState) -> None:
    s.execute(
        update(persons)
        .where(persons.c.person_id == person_id)
        .values(failures=after.failures, locked_until=after.locked_until)
    )


def _passed(
    s: Session, person: Any, credentials: Credentials, rehash: bool, hasher: Hasher, now: datetime
) -> None:
    """A password (and code) that passed: the failures forgotten, the hash renewed when
    its parameters are old, the code's time step spent."""
    values: dict[str, Any] = {"failures": 0, "locked_until": None}
    if rehash:
        values["password_hash"] = hasher.hash(credentials.password)
    if credentials.totp and person.totp_secret:
        values["totp_last_step"] = totp.step_of(now)
    s.execute(update(persons).where(persons.c.person_id == person.person_id).values(**values))


def open_session(
    uow: UnitOfWork,
    person: Any,
    now: datetime,
    *,
    reason: str,
    sessions: lockout.SessionPolicy = lockout.DEFAULT_SESSION,
) -> dict[str, Any]:
    """A session for ``person`` (a ``persons`` row), however they proved who they are
    (``reason``: "password", "sso"): stored, announced as ``person.signed_in``, and
    answered with its access and refresh tokens. Call inside the unit of work."""
    s = uow.session
    session_id, refresh = str(uuid.uuid4()), secrets.token_urlsafe(32)
    s.execute(
        person_sessions.insert().values(
            session_id=session_id,
            person_id=person.person_id,
            refresh_sha256=_digest(refresh),
            created_at=now,
            last_seen_at=now,
        )
    )
    uow.emit(security_event(person, "signed_in", reason, now, session_id=session_id))
    access, expires = _access_token(uow, person, session_id, now, now, sessions)
    return {
        "access_token": access,
        "token_type": "Bearer",
        "expires_at": expires,
        "refresh_token": refresh,
        "session_id": session_id,
        "session_ends_at": lockout.session_ends(now, now, sessions),
        "person": person_view(person),
        "password_change_due": change_due(person.password_changed_at, now, DEFAULT_POLICY),
    }


def _access_token(
    uow: UnitOfWork,
    person: Any,
    session_id: str,
    created_at: datetime,
    now: datetime,
    sessions: lockout.SessionPolicy,
) -> tuple[str, datetime]:
    expires = lockout.access_token_expires(created_at, now, sessions)
    claims = {
        "sub": person.person_id,
        "name": person.name,
        "unit": person.unit,
        "roles": json.loads(person.roles),
        "agency_id": person.agency_id,
        "staff_id": person.staff_id,
        "credit_codes": json.loads(person.credit_codes),
        "sid": session_id,
    }
    ttl = max(1, int((expires - now).total_seconds()))
    return tokens.issue(signing_key(uow, now), claims, now, ttl, ISSUER, AUDIENCE), expires


def person_view(person: Any) -> dict[str, Any]:
    roles = json.loads(person.roles)
    return {
        "person_id": person.person_id,
        "name": person.name,
        "unit": person.unit,
        "roles": roles,
        "api_role": api_role(roles),
        "agency_id": person.agency_id,
        "staff_id": person.staff_id,
        "credit_codes": json.loads(person.credit_codes),
        "disabled": person.disabled_at is not None,
        "second_factor": bool(person.totp_secret),
    }


def refresh(
    uow: UnitOfWork,
    refresh_token: str,
    *,
    now: datetime | None = None,
    sessions: lockout.SessionPolicy = lockout.DEFAULT_SESSION,
) -> dict[str, Any]:
    """A new access token and a new refresh token for a live session (the old refresh
    token is refused from then on); ``Unauthenticated`` once idle, ended or expired."""
    now = now or datetime.now(UTC)
    with uow:
        s = uow.session
        row = s.execute(
            select(person_sessions).where(
                person_sessions.c.refresh_sha256 == _digest(refresh_token)
            )
        ).first()
        if row is None or row.ended_at is not None:
            raise Unauthenticated("The session has ended; sign in again.")
        state = lockout.session_state(row.created_at, row.last_seen_at, now, sessions)
        person = s.execute(select(persons).where(persons.c.person_id == row.person_id)).first()
        if state != "active" or person is None or person.disabled_at is not None:
            reason = state if state != "active" else "account disabled"
            _end(s, row.session_id, now, reason)
            uow.commit()
            raise Unauthenticated(f"The session has ended ({reason}); sign in again.")
        new_refresh = secrets.token_urlsafe(32)
        s.execute(
            update(person_sessions)
            .where(person_sessions.c.session_id == row.session_id)
            .values(refresh_sha256=_digest(new_refresh), last_seen_at=now)
        )
        access, expires = _access_token(uow, person, row.session_id, row.created_at, now, sessions)
        uow.commit()
    return {
        "access_token": access,
        "token_type": "Bearer",
        "expires_at": expires,
        "refresh_token": new_refresh,
        "session_id": row.session_id,
        "session_ends_at": lockout.session_ends(row.created_at, now, sessions),
        "person": person_view(person),
        "password_change_due": change_due(person.password_changed_at, now, DEFAULT_POLICY),
    }


def _end(s: Session, session_id: str, now: datetime, reason: str) -> None:
    s.execute(
        update(person_sessions)
        .where(person_sessions.c.session_id == session_id, person_sessions.c.ended_at.is_(None))
        .values(ended_at=now, end_reason=reason)
    )


def sign_out(
    uow: UnitOfWork, actor: Principal, session_id: str, *, now: datetime | None = None
) -> None:
    """End one's own session: its refresh token is refused from now on (its access token
    lives out its few minutes)."""
    now = now or datetime.now(UTC)
    person_id = actor.key_id.removeprefix("person:")
    with uow:
        s = uow.session
        row = s.execute(
            select(person_sessions).where(
                person_sessions.c.session_id == session_id,
                person_sessions.c.person_id == person_id,
            )
        ).first()
        person = s.execute(select(persons).where(persons.c.person_id == person_id)).first()
        if row is None or person is None or not actor.key_id.startswith("person:"):
            raise Unauthenticated("No such session of yours.")
        if row.ended_at is None:
            _end(s, session_id, now, "signed out")
            uow.emit(security_event(person, "signed_out", "signed out", now, session_id=session_id))
        uow.commit()
