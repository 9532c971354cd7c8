"""API keys and roles: what a caller is, and the format of a key.

A key looks like ``osk_<key_id>_<secret>``. Only ``sha256(secret)`` is stored
(the secret is 32 random bytes, so a fast hash is the right tool: there is
nothing to brute-force), compared in constant time. Each key is bound to a
unit of the tree (``shared.events.jurisdiction_path``) and a role; an agency key
also to its agency. The directory service issues keys; every service verifies them
against its own copy (``shared.directory``).
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass

from shared.events import in_subtree, is_province

ROLES = ("admin", "district", "staff", "agency")
PREFIX = "osk"
MAX_CACHED_KEYS = 10_000


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


def secret_digest(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def split_token(token: str) -> tuple[str, str] | None:
    """``(key_id, secret)`` of a well-formed key, else None."""
    parts = token.split("_")
    if len(parts) != 3 or parts[0] != PREFIX or not parts[1] or not parts[2]:
        return None
    return parts[1], parts[2]


def new_key() -> tuple[str, str, str]:
    """A fresh key: ``(key_id, sha256 of its secret, the key to hand out once)``."""
    key_id = secrets.token_hex(6)
    secret = secrets.token_urlsafe(32).replace("_", "-")
    return key_id, secret_digest(secret), f"{PREFIX}_{key_id}_{secret}"
