"""API keys, roles and jurisdiction-subtree scoping (the platform directory).

A key looks like ``osk_<key_id>_<secret>``. Only ``sha256(secret)`` is stored
(the secret is 32 random bytes, so a fast hash is the right tool: there is
nothing to brute-force), compared in constant time. Each key is bound to a
jurisdiction (GB/T 2260 code) and a role; an agency key also to its agency.
The directory database also holds the jurisdiction tree every service scopes by.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import threading
import time
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import Column, MetaData, String, Table, select, update

from shared.db import Database, UtcDateTime
from shared.events import in_subtree, is_province, jurisdiction_path

ROLES = ("admin", "district", "staff", "agency")
PREFIX = "osk"
MAX_CACHED_KEYS = 10_000

metadata = MetaData()

jurisdictions = Table(
    "jurisdictions",
    metadata,
    Column("code", String(6), primary_key=True),
    Column("name", String(100), nullable=False),
    Column("parent", String(6), nullable=True, index=True),
    Column("level", String(20), nullable=False),
)

api_keys = Table(
    "api_keys",
    metadata,
    Column("key_id", String(16), primary_key=True),
    Column("secret_sha256", String(64), nullable=False),
    Column("name", String(100), nullable=False),
    Column("role", String(20), nullable=False),
    Column("jurisdiction", String(6), nullable=False),
    Column("agency_id", String(40), nullable=True),
    Column("created_at", UtcDateTime(), nullable=False),
    Column("revoked_at", UtcDateTime(), nullable=True),
)


@dataclass(frozen=True)
class Principal:
    key_id: str
    name: str
    role: str
    jurisdiction: str
    agency_id: str | None = None

    @property
    def is_province_admin(self) -> bool:
        """An administrator bound to a whole province: who may act on platform-wide
        things (the archive's hash chain, dead letters)."""
        return self.role == "admin" and is_province(self.jurisdiction)

    def can_see(self, jurisdiction: str) -> bool:
        """A principal sees its own jurisdiction and everything below it."""
        try:
            return in_subtree(jurisdiction, self.jurisdiction)
        except ValueError:
            return False


def _hash(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def _split(token: str) -> tuple[str, str] | None:
    parts = token.split("_")
    if len(parts) != 3 or parts[0] != PREFIX or not parts[1] or not parts[2]:
        return None
    return parts[1], parts[2]


class Directory:
    """Key store and jurisdiction tree, with a short in-process cache."""

    def __init__(self, db: Database, cache_seconds: float = 30.0) -> None:
        self.db = db
        self.cache_seconds = cache_seconds
        self._cache: dict[str, tuple[float, str, Principal]] = {}
        self._divisions: dict[str, tuple[float, dict[str, str] | None]] = {}
        self._lock = threading.Lock()

    def create_key(
        self,
        *,
        name: str,
        role: str,
        jurisdiction: str,
        agency_id: str | None = None,
    ) -> str:
        if role not in ROLES:
            raise ValueError(f"role must be one of {', '.join(ROLES)}")
        jurisdiction_path(jurisdiction)
        if role == "agency" and not agency_id:
            raise ValueError("an agency key needs agency_id")
        if not self.jurisdiction(jurisdiction):
            raise ValueError(f"unknown jurisdiction {jurisdiction}")
        key_id = secrets.token_hex(6)
        secret = secrets.token_urlsafe(32).replace("_", "-")
        with self.db.write_session() as s:
            s.execute(
                api_keys.insert().values(
                    key_id=key_id,
                    secret_sha256=_hash(secret),
                    name=name,
                    role=role,
                    jurisdiction=jurisdiction,
                    agency_id=agency_id,
                    created_at=datetime.now(UTC),
                )
            )
            s.commit()
        return f"{PREFIX}_{key_id}_{secret}"

    def revoke(self, key_id: str) -> bool:
        with self.db.write_session() as s:
            n = s.execute(  # type: ignore[attr-defined]
                update(api_keys)
                .where(api_keys.c.key_id == key_id, api_keys.c.revoked_at.is_(None))
                .values(revoked_at=datetime.now(UTC))
            ).rowcount
            s.commit()
        with self._lock:
            self._cache.pop(key_id, None)
        return bool(n)

    def authenticate(self, token: str) -> Principal | None:
        """The principal of a valid key, else None.

        Valid keys are cached for ``cache_seconds`` per process (so a revocation
        takes effect everywhere within that time); unknown ids are not cached,
        so made-up keys cannot grow memory.
        """
        parts = _split(token)
        if parts is None:
            return None
        key_id, secret = parts
        now = time.monotonic()
        with self._lock:
            hit = self._cache.get(key_id)
        if hit is None or hit[0] < now:
            with self.db.session() as s:
                row = (
                    s.execute(select(api_keys).where(api_keys.c.key_id == key_id))
                    .mappings()
                    .first()
                )
            if row is None or row["revoked_at"] is not None:
                with self._lock:
                    self._cache.pop(key_id, None)
                return None
            principal = Principal(
                key_id=row["key_id"],
                name=row["name"],
                role=row["role"],
                jurisdiction=row["jurisdiction"],
                agency_id=row["agency_id"],
            )
            hit = (now + self.cache_seconds, row["secret_sha256"], principal)
            with self._lock:
                if len(self._cache) >= MAX_CACHED_KEYS:
                    self._cache.clear()
                self._cache[key_id] = hit
        _, digest, found = hit
        if not hmac.compare_digest(digest, _hash(secret)):
            return None
        return found

    # jurisdictions ---------------------------------------------------------
    def add_jurisdiction(self, code: str, name: str) -> None:
        path = jurisdiction_path(code)
        parent = path[-2] if len(path) > 1 else None
        level = ("province", "city", "county")[len(path) - 1]
        with self.db.write_session() as s:
            if s.execute(select(jurisdictions.c.code).where(jurisdictions.c.code == code)).first():
                return
            s.execute(
                jurisdictions.insert().values(code=code, name=name, parent=parent, level=level)
            )
            s.commit()
        with self._lock:
            self._divisions.pop(code, None)

    def jurisdiction(self, code: str) -> dict[str, str] | None:
        """A division of the tree, or None; cached like keys (divisions rarely change)."""
        now = time.monotonic()
        with self._lock:
            hit = self._divisions.get(code)
        if hit is not None and hit[0] >= now:
            return hit[1]
        with self.db.session() as s:
            row = (
                s.execute(select(jurisdictions).where(jurisdictions.c.code == code))
                .mappings()
                .first()
            )
        found = dict(row) if row else None
        with self._lock:
            self._divisions[code] = (now + self.cache_seconds, found)
        return found

    def subtree(self, root: str) -> list[dict[str, str]]:
        with self.db.session() as s:
            rows = s.execute(select(jurisdictions).order_by(jurisdictions.c.code)).mappings()
            return [dict(r) for r in rows if in_subtree(r["code"], root)]
