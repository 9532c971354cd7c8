"""Archive rules: canonical form and the hash chain.

Pure Python: no Flask, SQLAlchemy or kombu.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable
from dataclasses import dataclass
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


def subjects_of(payload: dict[str, Any]) -> dict[str, str | None]:
    """Who an event is about, for search: enterprise, staff member, agency."""
    enterprise = payload.get("enterprise")
    credit = (
        enterprise.get("credit_code")
        if isinstance(enterprise, dict)
        else payload.get("credit_code") or payload.get("enterprise_credit_code")
    )
    if credit is None and isinstance(payload.get("enterprises"), list) and payload["enterprises"]:
        first = payload["enterprises"][0]
        credit = first.get("credit_code") if isinstance(first, dict) else None
    staff = payload.get("staff_id")
    if staff is None and payload.get("assignee_type") == "staff":
        staff = payload.get("assignee_id")
    agency = payload.get("agency_id")
    if agency is None and payload.get("assignee_type") == "agency":
        agency = payload.get("assignee_id")
    return {
        "credit_code": credit if isinstance(credit, str) else None,
        "staff_id": staff if isinstance(staff, str) else None,
        "agency_id": agency if isinstance(agency, str) else None,
    }


# Fields that carry a demand's content or an enterprise's contact (XN: never disclosed
# beyond the handling parties without the enterprise's consent): exports leave them out
# unless the event itself records that consent.
CONFIDENTIAL = (
    "title",
    "description",
    "contact",
    "details",
    "findings",
    "outcomes",
    "note",
    "comment",
    "text",
    "demands_raised",
    "participants",
)


def redacted(envelope: dict[str, Any]) -> dict[str, Any]:
    """The envelope with the confidential fields removed, unless consented to."""
    payload = envelope.get("payload") or {}
    if payload.get("consent_to_share") is True:
        return envelope
    kept = {k: v for k, v in payload.items() if k not in CONFIDENTIAL}
    if len(kept) == len(payload):
        return envelope
    return {**envelope, "payload": kept | {"redacted": sorted(set(payload) - set(kept))}}


@dataclass(frozen=True)
class Link:
    """One archived record as the chain sees it."""

    seq: int
    event_id: str
    body: str
    prev_hash: str
    hash: str
    columns: dict[str, Any]  # the indexed copies of envelope fields


def check_record(prev: str, expected_seq: int | None, link: Link) -> str | None:
    """Why this record breaks the chain, or None (the verify walk, one record)."""
    if link.prev_hash != prev:
        gap = expected_seq is not None and link.seq != expected_seq
        return (
            "the record before it is missing (deleted)"
            if gap
            else "it does not follow the previous record (reordered, or the previous one changed)"
        )
    if chain_hash(link.prev_hash, link.body) != link.hash:
        return "its content does not match its hash (edited)"
    try:
        envelope = json.loads(link.body)
    except ValueError:
        return "its body is not JSON (edited)"
    if canonical(envelope) != link.body:
        return "its body is not in canonical form (edited)"
    for name, value in link.columns.items():
        if _expected_column(envelope, name) != value:
            return f"its indexed {name} does not match its content (edited)"
    return None


@dataclass(frozen=True)
class Head:
    """The chain's head as stored: how many records, and the newest one's seq and hash."""

    length: int
    last_seq: int
    last_hash: str


@dataclass(frozen=True)
class Walked:
    """How far a walk from the chain's start got: the records found good, the hash of the
    last of them, and the first record that breaks the chain (None when none does)."""

    checked: int
    last_hash: str
    first_mismatch: dict[str, Any] | None


def walk(links: Iterable[Link]) -> Walked:
    """Follow the chain from its start (records in ``seq`` order) and stop at the first
    record that does not match: edited, deleted or reordered. Reads ``links`` only as far
    as that record."""
    prev, expected, checked = GENESIS, None, 0
    for link in links:
        why = check_record(prev, expected, link)
        if why:
            return Walked(
                checked, prev, {"seq": link.seq, "event_id": link.event_id, "reason": why}
            )
        prev, expected, checked = link.hash, link.seq + 1, checked + 1
    return Walked(checked, prev, None)


def head_mismatch(head: Head | None, walked: Walked) -> dict[str, Any] | None:
    """Why the head does not match an intact walk (the newest records deleted, or the
    head itself missing), or None."""
    if head is not None and (head.length != walked.checked or head.last_hash != walked.last_hash):
        return {
            "seq": head.last_seq,
            "event_id": None,
            "reason": f"the chain ends after {walked.checked} records but its head says "
            f"{head.length} ending at record {head.last_seq} (the newest records deleted)",
        }
    if head is None and walked.checked:
        return {"seq": None, "event_id": None, "reason": "the chain head is missing"}
    return None


def _expected_column(envelope: dict[str, Any], name: str) -> Any:
    payload = envelope.get("payload") or {}
    if name == "demand_code":
        return demand_code_of(payload)
    if name in ("credit_code", "staff_id", "agency_id"):
        return subjects_of(payload)[name]
    return envelope.get(name)
