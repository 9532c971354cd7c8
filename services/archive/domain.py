"""Archive rules: canonical form and the hash chain.

Pure Python: no Flask, SQLAlchemy or kombu.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

GENESIS = "0" * 64


def canonical(envelope: dict[str, Any]) -> str:
    """Canonical JSON: sorted keys, no insignificant whitespace, UTF-8 kept."""
    return json.dumps(envelope, ensure_ascii=False, sort_keys=True, separators=(",", ":"))


def chain_hash(prev_hash: str, canonical_body: str) -> str:
    """SHA-256 over the previous record's hash and this record's canonical body."""
    return hashlib.sha256((prev_hash + canonical_body).encode("utf-8")).hexdigest()


def demand_code_of(payload: dict[str, Any]) -> str | None:
    """The demand an event belongs to, when it belongs to one."""
    code = payload.get("demand_code")
    return code if isinstance(code, str) else None
