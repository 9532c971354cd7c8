"""The streaming export: any selection as JSONL or CSV, oldest first, in constant memory.

``export_rows`` (the matching records in keyset batches) is also what the replay and the
reports read.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterator
from typing import Any

from sqlalchemy import Row, Select

from services.archive.domain import redacted
from services.archive.models import archived_events
from services.archive.search import check_range, matching
from shared.auth import Principal
from shared.db import UnitOfWork
from shared.errors import invalid

t = archived_events
BATCH = 2000  # records read per query (keyset batches)
EXPORT_FORMATS = ("jsonl", "csv")
CSV_COLUMNS = [
    "seq",
    "event_id",
    "event_type",
    "event_version",
    "producer",
    "jurisdiction",
    "occurred_at",
    "correlation_id",
    "demand_code",
    "credit_code",
    "staff_id",
    "agency_id",
    "hash",
    "payload",
]


def export(uow: UnitOfWork, actor: Principal | None, args: dict[str, Any]) -> Iterator[str]:
    """Every matching event, oldest first, read in keyset batches: constant memory
    whatever the size, as ``args["format"]`` (JSONL unless said). Demand content and
    contacts are left out without consent.

    Not a generator: the format and the range are checked, the query scoped to the
    actor's subtree and the first batch read when this is called, so a refusal (Forbidden,
    Invalid) or an unreachable database is answered before the first byte is sent; the
    iterator returned formats the rows and reads the rest."""
    fmt = args.get("format", "jsonl")
    if fmt not in EXPORT_FORMATS:
        raise invalid("query", "format", f"one of {', '.join(EXPORT_FORMATS)}")
    check_range(args)
    rows = export_rows(uow, actor, args)
    return jsonl_lines(rows) if fmt == "jsonl" else csv_lines(rows)


def jsonl_lines(rows: Iterator[Any]) -> Iterator[str]:
    """One redacted envelope per line, with its place in the archive."""
    for r in rows:
        env = redacted(json.loads(r.body))
        yield (
            json.dumps({**env, "archive": {"seq": r.seq, "hash": r.hash}}, ensure_ascii=False)
            + "\n"
        )


def csv_row(r: Any) -> list[Any]:
    """A record as a CSV line: the indexed columns, then the redacted payload."""
    env = redacted(json.loads(r.body))
    return [
        r.seq,
        r.event_id,
        r.event_type,
        r.event_version,
        r.producer,
        r.jurisdiction,
        r.occurred_at.isoformat(),
        r.correlation_id,
        r.demand_code or "",
        r.credit_code or "",
        r.staff_id or "",
        r.agency_id or "",
        r.hash,
        json.dumps(env["payload"], ensure_ascii=False, sort_keys=True),
    ]


def csv_lines(rows: Iterator[Any]) -> Iterator[str]:
    """A header line, then one line per record."""
    buf = io.StringIO()
    writer = csv.writer(buf)
    writer.writerow(CSV_COLUMNS)
    yield buf.getvalue()
    for r in rows:
        buf.seek(0)
        buf.truncate()
        writer.writerow(csv_row(r))
        yield buf.getvalue()


def export_rows(
    uow: UnitOfWork, actor: Principal | None, args: dict[str, Any]
) -> Iterator[Row[Any]]:
    """The matching records, oldest first, in keyset batches of ``BATCH`` (constant
    memory). Not a generator: the query is scoped (Forbidden outside the actor's subtree)
    and the first batch read when this is called, so a refusal or an unreachable
    database comes before the caller has sent or published anything."""
    base = matching(actor, args)
    return _batches(uow, base, _batch(uow, base, after=0))


def _batch(uow: UnitOfWork, base: Select[Any], after: int) -> list[Row[Any]]:
    with uow.read() as s:
        return list(s.execute(base.where(t.c.seq > after).order_by(t.c.seq).limit(BATCH)).all())


def _batches(uow: UnitOfWork, base: Select[Any], batch: list[Row[Any]]) -> Iterator[Row[Any]]:
    while batch:
        yield from batch
        batch = _batch(uow, base, after=batch[-1].seq)
