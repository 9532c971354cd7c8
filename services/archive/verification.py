"""Verifying the hash chain: a routine verify from the newest checkpoint, or a full walk
from the chain's start; then the head.

The rules (what breaks the chain, what a checkpoint must match) are pure, in
``services.archive.domain``: ``walk``, ``links_hold``, ``checkpoint_mismatch`` and
``head_mismatch``. This use case reads the records for them in keyset batches, each
batch in its own short read (a walk that stops early leaves no session open).

Two ways a record is checked
----------------------------
* **From its body** (``walk``), the first time a verify reaches it: the hash over its
  stored bytes, its link to the record before, and each indexed column against the body
  (parsed once, never re-serialised). When a verify finds every record up to the head
  intact it writes a **checkpoint** (``domain.Checkpoint``): the seq, count and hash it
  reached, and the digest of the indexed columns of the records it checked this way.
* **From its stored bytes** (``links_hold``), when a full walk passes it again: the
  database hands over ``prev_hash`` and ``body`` as their UTF-8 bytes and the indexed
  columns as one line; the hashes are recomputed and the links compared a batch at a
  time, nothing parsed, and the lines are digested and compared, at each checkpoint, with
  the digest it recorded. A batch or a stretch that does not match is walked again from
  the checkpoint before it, from the bodies, which names the first record at fault (or
  the checkpoint, when every record holds).

What a routine verify proves (the default)
------------------------------------------
It starts at the newest checkpoint and proves:

* that checkpoint is intact: its digest matches its fields and the checkpoint before it,
  and the record it ends at is still there with the hash it recorded — so the history up
  to it was not rewritten with recomputed hashes (any edit, deletion or reordering that
  keeps the chain linked changes every later hash, that one included);
* every record after it, from its body: content, indexed columns, place, existence;
* the head: the newest records were not deleted.

It does **not** look at the records before the checkpoint, except the one it ends at: one
of them edited in place (its body or an indexed column, its hash left alone), deleted or
reordered without recomputing the hashes after it goes unnoticed until a full walk. The
checkpoint it writes vouches only for the records it walked: it cannot hide such an edit
from a later full walk.

What only a full walk proves (``full=True``, ``onestop archive verify --full``)
------------------------------------------------------------------------------
Every record from the start: each hash over its stored bytes and each link — so every
body, and every record's place and existence, against the chain itself — and every
checkpoint against the chain it covers (its digest and the one before it, the record and
hash it ends at, the count of records, the digest of their indexed columns): an altered
checkpoint is named. The indexed columns of the records a checkpoint covers are checked
against the column digest that checkpoint recorded when its verify checked them from
their bodies, not parsed again (that is what makes the walk fast); past the newest
checkpoint they are checked from the bodies.

A full walk therefore relies on the checkpoints for one thing only: that the columns
they digested matched their bodies then. Hiding an edited column from it takes that
checkpoint's column digest and the digest of every checkpoint after it recomputed — the
same kind of rewrite as recomputing every hash after an edited body. To re-derive every
column from its body regardless, empty ``chain_checkpoints``: the next verify walks
everything from the bodies, and records a fresh checkpoint.

Neither proves more than the chain can: whoever can write the archive's database and
recomputes every later hash, the head, and every later checkpoint's digests leaves a
consistent archive. The answer names the newest checkpoint and its digest, which an
auditor can keep outside the platform: rewriting anything up to it changes it.

Checkpoints are written only by a verify that found everything up to the head intact and
got past the newest checkpoint; two verifies racing cannot fork them (each names the
digest of the one before it, which only one checkpoint may do).
"""

from __future__ import annotations

import bisect
import operator
import queue
import threading
from collections.abc import Iterator, Sequence
from dataclasses import asdict
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import LargeBinary, Text, bindparam, cast, func, insert, select, type_coerce
from sqlalchemy.exc import IntegrityError
from sqlalchemy.sql.elements import ColumnElement
from sqlalchemy.types import NullType

from services.archive.domain import (
    GENESIS,
    Checkpoint,
    ColumnsDigest,
    Head,
    Link,
    Walked,
    checkpoint_mismatch,
    head_mismatch,
    links_hold,
    next_checkpoint,
    walk,
)
from services.archive.metrics import CHAIN_LENGTH, VERIFY_OK, VERIFY_TIME
from services.archive.models import archived_events, chain_checkpoints, chain_head
from shared.auth import Principal
from shared.db import UnitOfWork
from shared.events import is_province
from shared.usecases import Forbidden

t = archived_events
cp_t = chain_checkpoints
BATCH = 10_000  # records read per query
_SEQ = operator.itemgetter(0)
# the columns holding indexed copies of envelope fields: verify checks them against the body
INDEXED = (
    "event_id",
    "event_type",
    "producer",
    "jurisdiction",
    "demand_code",
    "credit_code",
    "staff_id",
    "agency_id",
)


def verify(
    uow: UnitOfWork, actor: Principal | None, *, full: bool = False, batch: int = BATCH
) -> dict[str, Any]:
    """Verify the chain — from its newest checkpoint, or from its start when ``full`` —
    name the first record (or checkpoint) that does not match, check the head, and, when
    all is intact, write a checkpoint where this verify ended (see the module's
    docstring for what each kind proves).

    The chain is one platform-wide sequence: only a province's administrators and
    auditors may verify it (Forbidden for anyone else); ``actor`` None is the platform
    operator (the CLI)."""
    auditor = actor is not None and actor.role == "auditor" and is_province(actor.jurisdiction)
    if actor is not None and not (actor.is_province_admin or auditor):
        raise Forbidden(
            f"Your key is {actor.role} of {actor.jurisdiction}. "
            "Verifying the hash chain is for the province's administrators and auditors: the "
            "chain is one platform-wide sequence, so it cannot be verified for a subtree, and "
            "its answer (the first bad record, of any jurisdiction) is about the whole "
            "platform. A city or district relies on the province's verification and the "
            "metric onestop_archive_last_verify_ok.",
        )
    started = datetime.now(UTC)
    # The newest checkpoint, then the head: the walk covers exactly the records the head
    # counts, however many are appended meanwhile (the head moves with every append, in
    # the same transaction), and no checkpoint read before it lies beyond it.
    newest = newest_checkpoint(uow)
    head = read_head(uow)
    upto = head.last_seq if head else None
    if full:
        w = _Walk(uow, None, batch, checkpoints_upto=newest.seq if newest else None)
        if newest is not None and not w.fast(newest.seq):
            w.rewind()  # something up to the newest checkpoint does not match: name it
        w.slow(upto)
        checked = w.length
    else:
        w = _Walk(uow, newest, batch)
        w.problem = anchor_mismatch(uow, newest) if newest else None
        if w.problem is None:
            w.slow(upto)
            checked = w.length
        else:
            checked = 0  # the checkpoint vouches for nothing
    problem = w.problem or head_mismatch(head, Walked(w.length, w.hash, None))
    checkpoint = None
    if problem is None:
        checkpoint = newest
        if w.seq > (newest.seq if newest else 0):
            made = next_checkpoint(w.last, w.seq, w.length, w.hash, w.columns.hexdigest())
            checkpoint = made if save_checkpoint(uow, made) else newest
    walked = checked - (newest.length if newest and not full else 0)
    elapsed = (datetime.now(UTC) - started).total_seconds()
    VERIFY_OK.set(0 if problem else 1)
    VERIFY_TIME.set(started.timestamp())
    CHAIN_LENGTH.set(checked)
    return {
        "ok": problem is None,
        "full": full,
        "checked": checked,
        "walked": max(walked, 0),
        "first_mismatch": problem,
        "checkpoint": None
        if checkpoint is None
        else {"seq": checkpoint.seq, "length": checkpoint.length, "digest": checkpoint.digest},
        "seconds": round(elapsed, 3),
        "rate_per_second": round(max(walked, 0) / elapsed) if elapsed > 0 else None,
        "verified_at": started,
    }


class _Walk:
    """A walk along the chain: where it stands (the last record found good: its seq and
    hash, and how many records from the start), the last checkpoint it passed, the
    checkpoints still ahead of it (up to ``checkpoints_upto``), and the digest of the
    indexed columns of the records since the last checkpoint."""

    def __init__(
        self,
        uow: UnitOfWork,
        start: Checkpoint | None,
        batch: int,
        checkpoints_upto: int | None = None,
    ) -> None:
        self.uow, self.batch, self.checkpoints_upto = uow, batch, checkpoints_upto
        self.problem: dict[str, Any] | None = None
        self.last = start
        self.rewind()

    def rewind(self) -> None:
        """Back to the last checkpoint passed (or the start)."""
        cp = self.last
        self.seq, self.hash, self.length = (cp.seq, cp.hash, cp.length) if cp else (0, GENESIS, 0)
        self.columns = ColumnsDigest()
        upto = self.checkpoints_upto
        self._ahead: Iterator[Checkpoint] = (
            iter(()) if upto is None else checkpoints(self.uow, self.seq, upto)
        )
        self._next = next(self._ahead, None)

    def fast(self, upto: int) -> bool:
        """Re-check the records up to ``upto`` from their stored bytes; False as soon as a
        batch or a checkpoint does not match (``rewind`` then, and walk ``slow``)."""
        for rows in stored_batches(self.uow, self.seq, upto, self.batch):
            if not links_hold(self.hash, rows) or self._pass(rows):
                return False
        return self._finish() is None

    def slow(self, upto: int | None) -> None:
        """Check the records up to ``upto`` (None: all) from their bodies; stop at the first
        record or checkpoint that does not match (``problem``)."""
        for rows in body_batches(self.uow, self.seq, upto, self.batch):
            links = [_link(r) for r in rows]
            walked = walk(links, self.hash, self.seq + 1 if self.seq else None)
            self.problem = self._pass(rows[: walked.checked]) or walked.first_mismatch
            if self.problem:
                return
        self.problem = self._finish()

    def _pass(self, rows: Sequence[Any]) -> dict[str, Any] | None:
        """Move past records found good (``stored_batches`` rows, in seq order), checking
        every checkpoint among them against what the walk found; the first checkpoint that
        does not match, or None."""
        i = 0
        while self._next is not None and rows and self._next.seq <= rows[-1][0]:
            j = bisect.bisect_right(rows, self._next.seq, lo=i, key=_SEQ)
            self._advance(rows, i, j)
            i = j
            problem = self._at_checkpoint()
            if problem:
                return problem
        self._advance(rows, i, len(rows))
        return None

    def _advance(self, rows: Sequence[Any], i: int, j: int) -> None:
        if j > i:
            self.columns.add([r[4] for r in rows[i:j]])
            self.length += j - i
            self.seq, self.hash = rows[j - 1][0], rows[j - 1][2]

    def _at_checkpoint(self) -> dict[str, Any] | None:
        cp = self._next
        assert cp is not None
        problem = checkpoint_mismatch(
            cp,
            prev_digest=self.last.digest if self.last else GENESIS,
            seq=self.seq,
            hash=self.hash,
            length=self.length,
            columns=self.columns.hexdigest(),
        )
        if problem is None:
            self.last, self.columns = cp, ColumnsDigest()
            self._next = next(self._ahead, None)
        return problem

    def _finish(self) -> dict[str, Any] | None:
        """A checkpoint still ahead when the records ran out ends at a missing record."""
        return self._at_checkpoint() if self._next is not None else None


# --- reading ---------------------------------------------------------------------------------


def _utf8(db_is_postgres: bool, text: ColumnElement[Any]) -> ColumnElement[Any]:
    """``text`` as the UTF-8 bytes the database holds (what ``chain_hash`` hashes), handed
    over as the driver gives them (bytes), with no per-row conversion."""
    if db_is_postgres:
        return func.convert_to(text, "UTF8")
    return type_coerce(cast(text, LargeBinary), NullType())  # SQLite: CAST(… AS BLOB)


def _columns_line(db_is_postgres: bool) -> ColumnElement[str]:
    """A record's stored indexed columns as one JSON array (``ColumnsDigest``'s line)."""
    cols = [t.c[c] for c in INDEXED]
    if db_is_postgres:
        return cast(func.json_build_array(*cols), Text)
    return func.json_array(*cols, type_=Text)


def _batches(
    uow: UnitOfWork, columns: list[Any], after: int, upto: int | None, batch: int
) -> Iterator[Sequence[Any]]:
    """The rows of ``columns`` for the records after ``after`` (through ``upto``), in
    ``seq`` order, ``batch`` at a time (keyset), each batch in its own short read, as the
    database driver hands them over (tuples): the statement is compiled once and run as
    SQLAlchemy would, without building its row objects, which would cost as much as
    checking the record (a full walk reads millions). No column may need a conversion
    of its result type. Read ahead (``read_ahead``): the database prepares the next
    batch while the caller checks this one."""
    return read_ahead(_read_batches(uow, columns, after, upto, batch))


class _Failed:
    def __init__(self, exc: BaseException) -> None:
        self.exc = exc


_DONE = object()


def read_ahead(items: Iterator[Any], depth: int = 2) -> Iterator[Any]:
    """``items`` produced by a thread of their own, up to ``depth`` ahead of the caller
    (the driver waits for the database without the GIL). The thread stops when the
    caller stops taking them (the generator closed); what it raises is raised here."""
    ready: queue.Queue[Any] = queue.Queue(maxsize=depth)
    stop = threading.Event()

    def put(item: Any) -> bool:
        while not stop.is_set():
            try:
                ready.put(item, timeout=0.1)
                return True
            except queue.Full:
                continue
        return False

    def produce() -> None:
        try:
            for item in items:
                if not put(item):
                    return
            put(_DONE)
        except BaseException as exc:  # handed to the caller
            put(_Failed(exc))

    thread = threading.Thread(target=produce, name="chain-read-ahead", daemon=True)
    thread.start()
    try:
        while True:
            item = ready.get()
            if item is _DONE:
                return
            if isinstance(item, _Failed):
                raise item.exc
            yield item
    finally:
        stop.set()
        thread.join()


def _read_batches(
    uow: UnitOfWork, columns: list[Any], after: int, upto: int | None, batch: int
) -> Iterator[Sequence[Any]]:
    query = select(*columns).where(t.c.seq > bindparam("after"))
    if upto is not None:
        query = query.where(t.c.seq <= bindparam("upto"))
    compiled = query.order_by(t.c.seq).limit(bindparam("batch")).compile(uow.db.engine)
    values = {"after": after, "upto": upto, "batch": batch}
    pg = uow.db.is_postgres
    while True:
        params = compiled.construct_params(values)
        if compiled.positional:
            args: Any = tuple(params[k] for k in compiled.positiontup or ())
        else:
            args = params
        with uow.read() as s:
            driver = s.connection().connection
            # psycopg: results in PostgreSQL's binary format (bytea not hex-encoded)
            cursor = driver.cursor(binary=True) if pg else driver.cursor()
            try:
                cursor.execute(compiled.string, args)
                rows = cursor.fetchall()
            finally:
                cursor.close()
        if not rows:
            return
        yield rows
        values["after"] = rows[-1][0]


def stored_batches(
    uow: UnitOfWork, after: int, upto: int, batch: int = BATCH
) -> Iterator[Sequence[Any]]:
    """The records after ``after`` through ``upto``, ``batch`` at a time, as rows
    ``(seq, prev_hash, hash, stored, line)``: ``stored`` is ``prev_hash`` then ``body``
    as UTF-8 bytes, ``line`` the indexed columns as one JSON array."""
    pg = uow.db.is_postgres
    columns = [
        t.c.seq,
        t.c.prev_hash,
        t.c.hash,
        _utf8(pg, t.c.prev_hash + t.c.body),
        _columns_line(pg),
    ]
    yield from _batches(uow, columns, after, upto, batch)


def body_batches(
    uow: UnitOfWork, after: int, upto: int | None, batch: int = BATCH
) -> Iterator[Sequence[Any]]:
    """The records after ``after`` (through ``upto`` when given), ``batch`` at a time, as
    rows ``(seq, prev_hash, hash, body, line, *INDEXED)`` (``stored_batches``' first
    five, the body in place of its bytes)."""
    columns = [
        t.c.seq,
        t.c.prev_hash,
        t.c.hash,
        t.c.body,
        _columns_line(uow.db.is_postgres),
        *(t.c[c] for c in INDEXED),
    ]
    yield from _batches(uow, columns, after, upto, batch)


def _link(row: Sequence[Any]) -> Link:
    """A ``body_batches`` row as the chain sees it."""
    seq, prev_hash, hash_, body, _, *indexed = row
    return Link(seq, row[5], body, prev_hash, hash_, dict(zip(INDEXED, indexed, strict=True)))


def links(uow: UnitOfWork, batch: int = BATCH, upto: int | None = None) -> Iterator[Link]:
    """Every record as the chain sees it (up to ``seq`` ``upto`` when given), in ``seq``
    order, read ``batch`` at a time."""
    for rows in body_batches(uow, 0, upto, batch):
        yield from map(_link, rows)


def read_head(uow: UnitOfWork) -> Head | None:
    with uow.read() as s:
        head = s.execute(select(chain_head).where(chain_head.c.id == 1)).first()
    return None if head is None else Head(head.length, head.last_seq, head.last_hash)


# --- checkpoints -----------------------------------------------------------------------------

_CP = (cp_t.c.seq, cp_t.c.length, cp_t.c.hash, cp_t.c.columns, cp_t.c.prev_digest, cp_t.c.digest)


def newest_checkpoint(uow: UnitOfWork) -> Checkpoint | None:
    with uow.read() as s:
        row = s.execute(select(*_CP).order_by(cp_t.c.seq.desc()).limit(1)).first()
    return None if row is None else Checkpoint(*row)


def checkpoints(uow: UnitOfWork, after: int, upto: int, batch: int = BATCH) -> Iterator[Checkpoint]:
    """The checkpoints after seq ``after`` through ``upto``, oldest first."""
    last = after
    while True:
        with uow.read() as s:
            rows = s.execute(
                select(*_CP)
                .where(cp_t.c.seq > last, cp_t.c.seq <= upto)
                .order_by(cp_t.c.seq)
                .limit(batch)
            ).all()
        if not rows:
            return
        yield from (Checkpoint(*r) for r in rows)
        last = rows[-1].seq


def anchor_mismatch(uow: UnitOfWork, cp: Checkpoint) -> dict[str, Any] | None:
    """Why a routine verify cannot start from ``cp``: the checkpoint altered (against
    itself and the one before it), or the record it ends at missing or rehashed."""
    with uow.read() as s:
        before = s.execute(
            select(cp_t.c.digest).where(cp_t.c.seq < cp.seq).order_by(cp_t.c.seq.desc()).limit(1)
        ).scalar()
        record = s.execute(select(t.c.seq, t.c.hash).where(t.c.seq == cp.seq)).first()
    return checkpoint_mismatch(
        cp,
        prev_digest=before or GENESIS,
        seq=record.seq if record else None,
        hash=record.hash if record else None,
    )


def save_checkpoint(uow: UnitOfWork, cp: Checkpoint) -> bool:
    """Write ``cp``; False when another verify extended the same checkpoint first (the
    checkpoints stay one chain: ``prev_digest`` is unique)."""
    try:
        with uow:
            uow.session.execute(insert(cp_t).values(**asdict(cp), made_at=datetime.now(UTC)))
            uow.commit()
    except IntegrityError:
        return False
    return True
