"""Places and credentials as every service knows them: its own copy, from the directory's
events.

The directory service (``services/directory``) owns the unit tree and the API keys. It
announces every change — ``jurisdiction.opened/renamed/moved/retired/reopened`` and
``apikey.issued/revoked`` (``shared.contracts.directory``) — and every service keeps the
same two tables in its own database (``add_directory_tables``), filled by one consumer
(``apply``) through its inbox. A service then authenticates a key and looks a unit up
without calling the directory or opening its database (``LocalDirectory``); the directory
itself reads its own tables the same way.

People's accounts are copied too (``add_accounts_table``, from ``person.created`` and
``person.updated``): an access token is signed for its account as it was, and a service
refuses it once its copy says the account is disabled, or holds other roles, unit or
bindings than the token claims ("refresh it": the directory then signs the account as it
is now). A person the copy does not know yet (just created) is taken at the token's word.

A copy is eventually consistent: a key issued now works everywhere once the services have
consumed ``apikey.issued`` (normally within a second); a revocation, a disabled account or
a changed role takes effect in each service once consumed and its cache expired
(``cache_seconds``).

Events may arrive out of order (a retried delivery): a unit's row keeps the instant of the
change it holds and ignores older ones; a revoked key stays revoked whatever arrives later.
"""

from __future__ import annotations

import hmac
import json
import logging
import threading
import time
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Column, MetaData, String, Table, Text, or_, select, update
from sqlalchemy.orm import Session

from shared import tokens
from shared.auth import MAX_CACHED_KEYS, Principal, person_principal, secret_digest, split_token
from shared.db import Database, UnitOfWork, UtcDateTime
from shared.events import Event, in_subtree, subtree_prefix

log = logging.getLogger(__name__)

CODE_LENGTH = 40  # the longest unit code (see shared.events.JURISDICTION_RE)

# the consumer's queue binds these (every subtree)
DIRECTORY_EVENTS = (
    "jurisdiction.#",
    "apikey.#",
    "signing_key.#",
    "person.created.#",
    "person.updated.#",
)
TOKEN_ISSUER = "onestop-directory"  # who signs people's access tokens
TOKEN_AUDIENCE = "onestop"  # every service accepts them
KEYS_CACHE_SECONDS = 5.0  # how long a service reuses the signing keys it read


def add_directory_tables(metadata: MetaData) -> tuple[Table, Table]:
    """The unit tree and the API keys, in ``metadata`` (the directory's own tables, and
    every other service's copy of them)."""
    jurisdictions = Table(
        "jurisdictions",
        metadata,
        Column("code", String(CODE_LENGTH), primary_key=True),
        Column("name", String(100), nullable=False),
        Column("parent", String(CODE_LENGTH), nullable=True, index=True),
        Column("level", String(20), nullable=False),
        Column("source", String(20), nullable=False, server_default="gb2260"),
        Column("retired_at", UtcDateTime(), nullable=True),
        Column("successor", String(CODE_LENGTH), nullable=True),
        Column("changed_at", UtcDateTime(), nullable=True),
    )
    api_keys = Table(
        "api_keys",
        metadata,
        Column("key_id", String(16), primary_key=True),
        Column("secret_sha256", String(64), nullable=False),
        Column("name", String(100), nullable=False),
        Column("role", String(20), nullable=False),
        Column("jurisdiction", String(CODE_LENGTH), nullable=False),
        Column("agency_id", String(40), nullable=True),
        Column("created_at", UtcDateTime(), nullable=False),
        Column("revoked_at", UtcDateTime(), nullable=True),
        Column("expires_at", UtcDateTime(), nullable=True),  # a rotated key's overlap ends
        Column("scopes", Text, nullable=True),  # a JSON list of actions (``intake.*``); null: all
    )
    return jurisdictions, api_keys


def add_signing_keys_table(metadata: MetaData) -> Table:
    """The public keys access tokens are signed with (the directory's own, and every
    other service's copy of them)."""
    return Table(
        "signing_keys",
        metadata,
        Column("kid", String(80), primary_key=True),
        Column("public_jwk", Text, nullable=False),
        Column("created_at", UtcDateTime(), nullable=False),
        Column("retired_at", UtcDateTime(), nullable=True),
    )


def add_accounts_table(metadata: MetaData) -> Table:
    """People's accounts as every service but the directory keeps them (the directory
    reads its own ``persons``, which has the same columns and more)."""
    return Table(
        "accounts",
        metadata,
        Column("person_id", String(40), primary_key=True),
        Column("unit", String(CODE_LENGTH), nullable=False),
        Column("roles", Text, nullable=False),  # a JSON list
        Column("agency_id", String(40), nullable=True),
        Column("staff_id", String(40), nullable=True),
        Column("credit_codes", Text, nullable=False, server_default="[]"),  # a JSON list
        Column("disabled_at", UtcDateTime(), nullable=True),
        Column("changed_at", UtcDateTime(), nullable=False),
    )


# why a well-signed token is refused, after ``shared.tokens.REASONS`` ("The access token is …")
ACCOUNT_DISABLED = "of a disabled account"
ACCOUNT_CHANGED = "older than its account's last change: refresh it"


def refusal_of(claims: dict[str, Any], account: Any) -> str | None:
    """Why a verified token's ``claims`` no longer hold for its ``account`` (a row of the
    accounts or persons table), else None."""
    if account["disabled_at"] is not None:
        return ACCOUNT_DISABLED
    now = {
        "unit": account["unit"],
        "roles": sorted(json.loads(account["roles"])),
        "agency_id": account["agency_id"],
        "staff_id": account["staff_id"],
        "credit_codes": sorted(json.loads(account["credit_codes"] or "[]")),
    }
    claimed = {
        "unit": claims.get("unit"),
        "roles": sorted(claims.get("roles") or []),
        "agency_id": claims.get("agency_id"),
        "staff_id": claims.get("staff_id"),
        "credit_codes": sorted(claims.get("credit_codes") or []),
    }
    return None if now == claimed else ACCOUNT_CHANGED


def unit_of(row: Any) -> dict[str, Any]:
    """A unit as the services see it."""
    return {
        "code": row["code"],
        "name": row["name"],
        "parent": row["parent"],
        "level": row["level"],
        "source": row["source"],
        "retired": row["retired_at"] is not None,
        "successor": row["successor"],
    }


class LocalDirectory:
    """Keys and units from this service's own tables, with a short in-process cache."""

    def __init__(self, db: Database, cache_seconds: float = 30.0) -> None:
        self.db = db
        self.jurisdictions = db.metadata.tables["jurisdictions"]
        self.api_keys = db.metadata.tables["api_keys"]
        self.cache_seconds = cache_seconds
        self._keys: dict[str, tuple[float, str, Principal, datetime | None]] = {}
        self._units: dict[str, tuple[float, dict[str, Any] | None]] = {}
        self._keyset: tuple[float, dict[str, dict[str, Any]]] | None = None
        self._accounts: dict[str, tuple[float, Any]] = {}
        self._lock = threading.Lock()

    def authenticate(self, token: str) -> Principal | None:
        """The principal of a valid key, else None. Valid keys are cached for
        ``cache_seconds``; unknown ids are not cached (made-up keys cannot grow memory)."""
        parts = split_token(token)
        if parts is None:
            return None
        key_id, secret = parts
        now = time.monotonic()
        with self._lock:
            hit = self._keys.get(key_id)
        if hit is None or hit[0] < now:
            with self.db.reading() as s:
                row = (
                    s.execute(select(self.api_keys).where(self.api_keys.c.key_id == key_id))
                    .mappings()
                    .first()
                )
            if row is None or row["revoked_at"] is not None:
                with self._lock:
                    self._keys.pop(key_id, None)
                return None
            principal = Principal(
                key_id=row["key_id"],
                name=row["name"],
                role=row["role"],
                jurisdiction=row["jurisdiction"],
                agency_id=row["agency_id"],
                scopes=tuple(json.loads(row["scopes"])) if row["scopes"] else (),
            )
            hit = (now + self.cache_seconds, row["secret_sha256"], principal, row["expires_at"])
            with self._lock:
                if len(self._keys) >= MAX_CACHED_KEYS:
                    self._keys.clear()
                self._keys[key_id] = hit
        _, digest, found, expires_at = hit
        if not hmac.compare_digest(digest, secret_digest(secret)):
            return None
        if expires_at is not None and datetime.now(UTC) >= expires_at:
            return None  # a rotated key whose overlap is over
        return found

    def verify_token(self, token: str) -> Principal:
        """The person behind a signed access token; ``InvalidToken`` naming why not (a
        malformed, forged, expired or foreign token, or one signed by a retired key)."""
        try:
            claims = tokens.verify(
                token, self.signing_keys(), datetime.now(UTC), TOKEN_ISSUER, TOKEN_AUDIENCE
            )
        except ValueError:  # a published key this service cannot use: not the caller's fault
            log.exception("a published signing key cannot be used")
            raise tokens.InvalidToken(tokens.UNKNOWN_KEY) from None
        account = self.account(str(claims["sub"]))
        refused = None if account is None else refusal_of(claims, account)
        if refused is not None:
            raise tokens.InvalidToken(refused)
        return person_principal(claims)

    def account(self, person_id: str) -> Any:
        """A person's account as this service knows it (None: not yet announced), cached
        like the units; the directory reads its own ``persons``."""
        now = time.monotonic()
        with self._lock:
            hit = self._accounts.get(person_id)
        if hit is not None and hit[0] >= now:
            return hit[1]
        tables = self.db.metadata.tables
        t = tables.get("accounts", tables.get("persons"))
        found = None
        if t is not None:
            with self.db.reading() as s:
                found = s.execute(select(t).where(t.c.person_id == person_id)).mappings().first()
        with self._lock:
            if len(self._accounts) >= MAX_CACHED_KEYS:
                self._accounts.clear()
            self._accounts[person_id] = (now + self.cache_seconds, found)
        return found

    def signing_keys(self) -> dict[str, dict[str, Any]]:
        """The public keys tokens may be signed with (kid → JWK), from this copy."""
        now = time.monotonic()
        with self._lock:
            if self._keyset is not None and self._keyset[0] >= now:
                return self._keyset[1]
        t = self.db.metadata.tables.get("signing_keys")
        found: dict[str, dict[str, Any]] = {}
        if t is not None:
            with self.db.reading() as s:
                rows = s.execute(select(t).where(t.c.retired_at.is_(None))).all()
            found = {r.kid: json.loads(r.public_jwk) for r in rows}
        with self._lock:
            self._keyset = (now + min(self.cache_seconds, KEYS_CACHE_SECONDS), found)
        return found

    def jurisdiction(self, code: str) -> dict[str, Any] | None:
        """A unit of the tree (retired ones too: ``retired`` says so), or None."""
        now = time.monotonic()
        with self._lock:
            hit = self._units.get(code)
        if hit is not None and hit[0] >= now:
            return hit[1]
        with self.db.reading() as s:
            row = (
                s.execute(select(self.jurisdictions).where(self.jurisdictions.c.code == code))
                .mappings()
                .first()
            )
        found = unit_of(row) if row else None
        with self._lock:
            self._units[code] = (now + self.cache_seconds, found)
        return found

    def subtree(self, root: str) -> list[dict[str, Any]]:
        """The units at and below ``root``, by code."""
        with self.db.reading() as s:
            rows = s.execute(
                select(self.jurisdictions)
                .where(self.jurisdictions.c.code.startswith(subtree_prefix(root)))
                .order_by(self.jurisdictions.c.code)
            ).mappings()
            return [unit_of(r) for r in rows if in_subtree(r["code"], root)]

    def forget(self) -> None:
        """Drop the cache (after this process changed the tables itself)."""
        with self._lock:
            self._keys.clear()
            self._units.clear()
            self._accounts.clear()
            self._keyset = None


# --- the consumer: one for both kinds of events ------------------------------------------


def apply(event: Event, uow: UnitOfWork) -> None:
    """Apply one of the directory's events to this service's copy (through the inbox)."""
    tables = uow.db.metadata.tables
    p = event.payload
    if event.event_type.startswith("apikey."):
        _apply_key(uow.session, tables["api_keys"], p)
    elif event.event_type.startswith("signing_key."):
        _apply_signing_key(uow.session, tables["signing_keys"], p)
    elif event.event_type.startswith("person."):
        if "accounts" in tables:  # the directory announces its own persons
            _apply_account(uow.session, tables["accounts"], p)
    else:
        _apply_unit(uow.session, tables["jurisdictions"], p, event.occurred_at)


def _apply_unit(s: Session, t: Table, p: dict[str, Any], at: datetime) -> None:
    values = {
        "name": p["name"],
        "parent": p.get("parent"),
        "level": p["level"],
        "source": p.get("source") or "gb2260",
        "retired_at": datetime.fromisoformat(p["retired_at"]) if p.get("retired_at") else None,
        "successor": p.get("successor"),
        "changed_at": at,
    }
    row = s.execute(select(t.c.changed_at).where(t.c.code == p["code"])).first()
    if row is None:
        s.execute(t.insert().values(code=p["code"], **values))
    elif row.changed_at is None or row.changed_at <= at:  # an older change never wins
        s.execute(update(t).where(t.c.code == p["code"]).values(**values))


def _apply_key(s: Session, t: Table, p: dict[str, Any]) -> None:
    """Both key events carry the whole key: a revocation met before the issue (a retried
    delivery) is stored as a revoked key, and a later ``issued`` never revives it."""
    revoked_at = datetime.fromisoformat(p["revoked_at"]) if p.get("revoked_at") else None
    expires_at = datetime.fromisoformat(p["expires_at"]) if p.get("expires_at") else None
    known = s.execute(select(t.c.key_id).where(t.c.key_id == p["key_id"])).first()
    if known is not None:
        live = update(t).where(t.c.key_id == p["key_id"], t.c.revoked_at.is_(None))
        if revoked_at is not None:
            s.execute(live.values(revoked_at=revoked_at))
        elif expires_at is not None:  # a rotation: the old key's overlap (only ever shortened)
            s.execute(
                live.where(or_(t.c.expires_at.is_(None), t.c.expires_at > expires_at)).values(
                    expires_at=expires_at
                )
            )
        return
    s.execute(
        t.insert().values(
            key_id=p["key_id"],
            secret_sha256=p["secret_sha256"],
            name=p["name"],
            role=p["role"],
            jurisdiction=p["jurisdiction"],
            agency_id=p.get("agency_id"),
            created_at=datetime.fromisoformat(p["created_at"]),
            revoked_at=revoked_at,
            expires_at=expires_at,
            scopes=json.dumps(p["scopes"]) if p.get("scopes") else None,
        )
    )


def _apply_signing_key(s: Session, t: Table, p: dict[str, Any]) -> None:
    """A published key is added once; a retirement sticks whatever arrives later."""
    retired = datetime.fromisoformat(p["retired_at"]) if p.get("retired_at") else None
    known = s.execute(select(t.c.kid).where(t.c.kid == p["kid"])).first()
    if known is None:
        s.execute(
            t.insert().values(
                kid=p["kid"],
                public_jwk=json.dumps(p["public_jwk"]),
                created_at=datetime.fromisoformat(p["created_at"]),
                retired_at=retired,
            )
        )
    elif retired is not None:
        s.execute(
            update(t)
            .where(t.c.kid == p["kid"], t.c.retired_at.is_(None))
            .values(retired_at=retired)
        )


def _apply_account(s: Session, t: Table, p: dict[str, Any]) -> None:
    """``person.created`` and ``person.updated`` carry the whole account: the latest change
    (by its ``at``) wins, whatever order they arrive in."""
    at = datetime.fromisoformat(p["at"])
    values = {
        "unit": p["unit"],
        "roles": json.dumps(sorted(p["roles"])),
        "agency_id": p.get("agency_id"),
        "staff_id": p.get("staff_id"),
        "credit_codes": json.dumps(sorted(p.get("credit_codes") or [])),
        "disabled_at": at if p["disabled"] else None,
        "changed_at": at,
    }
    row = s.execute(select(t.c.changed_at).where(t.c.person_id == p["person_id"])).first()
    if row is None:
        s.execute(t.insert().values(person_id=p["person_id"], **values))
    elif row.changed_at <= at:
        s.execute(update(t).where(t.c.person_id == p["person_id"]).values(**values))
