"""Archive rules: canonical form and the hash chain.

Pure Python: no Flask, SQLAlchemy or kombu.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Sequence
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
    """Why this record breaks the chain, or None (the verify walk, one record).

    The hash is taken over the stored bytes themselves (``prev_hash`` then ``body``), so
    a body edited in any way — canonical or not — no longer matches its hash: the body
    is parsed only to check the indexed columns against it, once, never re-serialised."""
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
    if not isinstance(envelope, dict):
        return "its body is not an event envelope (edited)"
    expected = indexed_columns(envelope)
    if link.columns == expected:
        return None
    for name, value in link.columns.items():
        if (expected[name] if name in expected else envelope.get(name)) != value:
            return f"its indexed {name} does not match its content (edited)"
    return None


def indexed_columns(envelope: dict[str, Any]) -> dict[str, Any]:
    """The envelope fields the archive copies into indexed columns, as the append takes
    them: what verify checks each stored copy against."""
    payload = envelope.get("payload") or {}
    return {
        "event_id": envelope.get("event_id"),
        "event_type": envelope.get("event_type"),
        "producer": envelope.get("producer"),
        "jurisdiction": envelope.get("jurisdiction"),
        "demand_code": demand_code_of(payload),
        **subjects_of(payload),
    }


def links_hold(prev: str, rows: Sequence[Sequence[Any]]) -> bool:
    """Whether a batch of stored records (in ``seq`` order, each ``(seq, prev_hash, hash,
    stored, …)``) all hold: the first follows ``prev``, each the one before it, and each
    hash is the SHA-256 of its ``stored`` bytes — ``prev_hash`` then ``body`` in UTF-8 as
    the database holds them, which is what ``chain_hash`` hashes. Nothing is parsed or
    re-serialised; a False says only that the batch holds a break (``walk`` names it)."""
    sha256 = hashlib.sha256
    for row in rows:
        if row[1] != prev or sha256(row[3]).hexdigest() != row[2]:
            return False
        prev = row[2]
    return True


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


def walk(links: Iterable[Link], prev: str = GENESIS, expected: int | None = None) -> Walked:
    """Follow the chain from ``prev`` (its start, or the hash a checkpoint recorded; the
    first record's seq ``expected`` when known), records in ``seq`` order, and stop at
    the first record that does not match: edited, deleted or reordered. Reads ``links``
    only as far as that record."""
    checked = 0
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


# --- checkpoints: what a verify found intact, so that the next walks only what is new ------


@dataclass(frozen=True)
class Checkpoint:
    """A stretch of the chain a verify found intact: its records from the start through
    ``seq``, ``length`` of them, the last with chain hash ``hash``; ``columns`` is the
    digest (``ColumnsDigest``) of the indexed columns of the records since the previous
    checkpoint, as they were found to match their bodies. Checkpoints are chained too:
    ``digest`` covers these fields and ``prev_digest`` (the previous checkpoint's digest,
    ``GENESIS`` for the first)."""

    seq: int
    length: int
    hash: str
    columns: str
    prev_digest: str
    digest: str


def checkpoint_digest(prev_digest: str, seq: int, length: int, hash: str, columns: str) -> str:
    """SHA-256 over the previous checkpoint's digest and this checkpoint's fields."""
    return hashlib.sha256(f"{prev_digest}|{seq}|{length}|{hash}|{columns}".encode()).hexdigest()


def next_checkpoint(
    prev: Checkpoint | None, seq: int, length: int, hash: str, columns: str
) -> Checkpoint:
    """The checkpoint after ``prev`` (None: the first) for a walk that reached ``seq``."""
    prev_digest = prev.digest if prev else GENESIS
    digest = checkpoint_digest(prev_digest, seq, length, hash, columns)
    return Checkpoint(seq, length, hash, columns, prev_digest, digest)


class ColumnsDigest:
    """SHA-256 over records' indexed columns, in ``seq`` order, one line per record (the
    database renders a record's stored columns as a JSON array: a line holds no newline,
    and NULL, empty and any text stay distinct)."""

    def __init__(self) -> None:
        self._sha = hashlib.sha256()

    def add(self, lines: Sequence[str]) -> None:
        if lines:
            self._sha.update(("\n".join(lines) + "\n").encode("utf-8"))

    def hexdigest(self) -> str:
        return self._sha.hexdigest()


def checkpoint_mismatch(
    cp: Checkpoint,
    *,
    prev_digest: str,
    seq: int | None,
    hash: str | None,
    length: int | None = None,
    columns: str | None = None,
) -> dict[str, Any] | None:
    """Why checkpoint ``cp`` does not match the chain, or None: ``prev_digest`` is the
    checkpoint before it (``GENESIS`` for none), ``seq`` and ``hash`` the record the
    chain has at ``cp.seq`` (``seq`` None or another: no such record); ``length`` and
    ``columns``, when given, what a walk from the start found up to it."""

    def problem(reason: str) -> dict[str, Any]:
        return {"seq": cp.seq, "event_id": None, "reason": reason}

    if cp.prev_digest != prev_digest or cp.digest != checkpoint_digest(
        cp.prev_digest, cp.seq, cp.length, cp.hash, cp.columns
    ):
        return problem(f"the checkpoint at record {cp.seq} was altered (its digest does not match)")
    if seq != cp.seq:
        return problem(f"the record the checkpoint at record {cp.seq} ends at is missing (deleted)")
    if hash != cp.hash:
        return problem(
            f"record {cp.seq} no longer has the hash the checkpoint recorded "
            "(the records up to it were rewritten)"
        )
    if length is not None and length != cp.length:
        return problem(
            f"the chain holds {length} records up to record {cp.seq}, its checkpoint "
            f"{cp.length} (the checkpoint was altered)"
        )
    if columns is not None and columns != cp.columns:
        return problem(
            f"the indexed columns up to record {cp.seq} differ from those its checkpoint "
            "verified (the checkpoint was altered)"
        )
    return None
