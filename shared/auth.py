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
from typing import Any

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
    roles: tuple[str, ...] = ()  # a person's roles (a system's key has none)
    staff_id: str | None = None  # a person's staff record in dispatch's map, when linked
    scopes: tuple[str, ...] = ()  # a system key's actions (``intake.*``); empty: its role's all
    credit_codes: tuple[str, ...] = ()  # an enterprise user's enterprises

    @property
    def is_enterprise(self) -> bool:
        return self.role == "enterprise"

    def acts_for(self, credit_code: str) -> bool:
        """An enterprise user acts for the enterprises bound to its account, only."""
        return credit_code in self.credit_codes

    @property
    def is_person(self) -> bool:
        return self.key_id.startswith("person:")

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


# A person's roles and the API role the services' checks know them by (until every
# service decides by the permission matrix): the first role of the list that applies.
API_ROLE_OF = (
    ("sysadmin", "admin"),
    ("secadmin", "admin"),
    ("leader", "district"),
    ("office_staff", "staff"),
    ("station_staff", "staff"),
    ("commissioner", "staff"),
    ("agency_clerk", "agency"),
    ("auditor", "auditor"),
    ("enterprise", "enterprise"),
)


def api_role(roles: tuple[str, ...] | list[str]) -> str:
    """The API role of a person holding ``roles`` (``none`` when no role applies)."""
    return next((api for role, api in API_ROLE_OF if role in roles), "none")


def person_principal(claims: dict[str, Any]) -> Principal:
    """The principal of a verified access token's claims."""
    given = claims.get("roles")
    roles = tuple(str(r) for r in given) if isinstance(given, list) else ()
    agency, staff = claims.get("agency_id"), claims.get("staff_id")
    codes = claims.get("credit_codes")
    return Principal(
        key_id=f"person:{claims['sub']}",
        name=str(claims.get("name", claims["sub"])),
        role=api_role(roles),
        jurisdiction=str(claims["unit"]),
        agency_id=str(agency) if agency else None,
        roles=roles,
        staff_id=str(staff) if staff else None,
        credit_codes=tuple(str(c) for c in codes) if isinstance(codes, list) else (),
    )


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
