"""The daily board (日调度, QCY 即日办、日调度、周推进、月总结) of a jurisdiction's subtree:
what was new that day, what falls due that day, what is overdue, what has been escalated
to a leader, and what still awaits its first response — as JSON and as an XLSX workbook.

The board of a day is taken at the day's end (China time), or now for today: a demand
counts as open at that moment when it is not closed or rejected now, or was closed
after it. Sections overlap by design (an overdue demand may also be escalated and
unanswered); each lists at most ``ITEMS`` demands, soonest due first, with the full
count beside it.
"""

from __future__ import annotations

import io
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from sqlalchemy import ColumnElement, and_, func, or_, select

from services.intake import ledger
from services.intake.lifecycle import FINAL
from services.intake.models import demands
from services.intake.reading import demand_rows
from services.intake.timelimits import require_known
from shared.auth import Principal
from shared.db import UnitOfWork
from shared.events import subtree_prefix
from shared.sheets import row as sheet_row
from shared.timezone import CHINA, china_today
from shared.usecases import Invalid

ITEMS = 200  # demands listed per section (the count is always complete)


@dataclass(frozen=True)
class Moment:
    """The day a board covers, as instants: its start and end (China-time midnights),
    and the moment the board is taken (the day's end, or now when that is earlier)."""

    day: date
    start: datetime
    end: datetime
    at: datetime


def moment(day: date, now: datetime) -> Moment:
    """The board of ``day`` as of ``now``; a day after today is refused (ValueError)."""
    if day > now.astimezone(CHINA).date():
        raise ValueError("a daily board is of today or a past day")
    start = datetime.combine(day, time.min, CHINA).astimezone(UTC)
    end = start + timedelta(days=1)
    return Moment(day, start, end, min(end, now))


d = demands.c

# section → (Chinese title, the demands it selects at moment ``m``)
SECTIONS: dict[str, tuple[str, Callable[[Moment], ColumnElement[bool]]]] = {
    "new": ("新受理", lambda m: and_(d.accepted_at >= m.start, d.accepted_at < m.end)),
    "due_today": (
        "今日到期",
        lambda m: and_(d.expected_at >= m.at, d.expected_at < m.end),
    ),
    "overdue": ("已超期", lambda m: d.expected_at < m.at),
    "escalated": ("已督办", lambda m: d.escalated_at <= m.at),
    "awaiting_response": (
        "待响应",
        lambda m: and_(
            d.respond_by.is_not(None), or_(d.responded_at.is_(None), d.responded_at > m.at)
        ),
    ),
}
OPEN_SECTIONS = {"due_today", "overdue", "escalated", "awaiting_response"}


def open_at(m: Moment) -> ColumnElement[bool]:
    """Accepted by the moment and not (yet) closed or rejected at it."""
    return and_(
        d.accepted_at < m.at,
        or_(d.status.notin_(FINAL), d.closed_at > m.at),
    )


def selects(section: str, m: Moment) -> ColumnElement[bool]:
    condition = SECTIONS[section][1](m)
    return and_(open_at(m), condition) if section in OPEN_SECTIONS else condition


def _item(r: Any, m: Moment) -> dict[str, Any]:
    return {
        "code": r.code,
        "jurisdiction": r.jurisdiction,
        "enterprise": {"credit_code": r.enterprise_credit_code, "name": r.enterprise_name},
        "category": r.category,
        "status": r.status,
        "owner": r.owner_name,
        "received_at": r.received_at or r.accepted_at,
        "expected_at": r.expected_at,
        "respond_by": r.respond_by,
        "responded_at": r.responded_at,
        "response_late": r.respond_by is not None and (r.responded_at or m.at) > r.respond_by,
        "escalated_at": r.escalated_at,
        "escalated_to": r.escalated_to,
    }


def _parsed(actor: Principal, uow: UnitOfWork, jurisdiction: str, day: date | None) -> Moment:
    require_known(uow, actor, jurisdiction)
    try:
        return moment(day or china_today(), datetime.now(UTC))
    except ValueError as exc:
        raise Invalid.field("date", str(exc), where="query") from None


def _rows(uow: UnitOfWork, jurisdiction: str, m: Moment, limit: int | None) -> dict[str, Any]:
    under = d.jurisdiction.startswith(subtree_prefix(jurisdiction))
    out: dict[str, Any] = {}
    with uow.read() as s:
        for name in SECTIONS:
            where = and_(under, selects(name, m))
            count = s.execute(select(func.count()).select_from(demands).where(where)).scalar_one()
            q = demand_rows().where(where).order_by(d.expected_at, d.code)
            rows = s.execute(q if limit is None else q.limit(limit)).all()
            out[name] = (count, rows)
    return out


def daily_board(
    uow: UnitOfWork, actor: Principal, jurisdiction: str, day: date | None = None
) -> dict[str, Any]:
    """The board of ``jurisdiction``'s subtree for ``day`` (today by default)."""
    m = _parsed(actor, uow, jurisdiction, day)
    sections = _rows(uow, jurisdiction, m, ITEMS)
    return {
        "jurisdiction": jurisdiction,
        "date": m.day,
        "as_of": m.at,
        "counts": {name: count for name, (count, _) in sections.items()},
        "sections": {name: [_item(r, m) for r in rows] for name, (_, rows) in sections.items()},
    }


# -- the workbook ----------------------------------------------------------------------
EXTRA_COLUMNS: tuple[tuple[str, Callable[[Any], Any]], ...] = (
    ("接收时间", lambda r: ledger.when(r.received_at or r.accepted_at)),
    ("首次响应时限", lambda r: ledger.when(r.respond_by)),
    ("首次响应时间", lambda r: ledger.when(r.responded_at)),
    ("督办时间", lambda r: ledger.when(r.escalated_at)),
    ("督办对象", lambda r: r.escalated_to),
)


def board_workbook(
    uow: UnitOfWork, actor: Principal, jurisdiction: str, day: date | None = None
) -> tuple[bytes, Moment]:
    """The board as a workbook: a summary sheet (总览), then a sheet per section listing
    every demand of it (headed in Chinese; content only with consent, as the ledger)."""
    from openpyxl import Workbook

    m = _parsed(actor, uow, jurisdiction, day)
    sections = _rows(uow, jurisdiction, m, ledger.LIMIT)
    wb = Workbook(write_only=True)
    summary = wb.create_sheet("总览")
    summary.append(["日调度", jurisdiction, m.day.isoformat()])
    summary.append(["截至", ledger.when(m.at)])
    summary.append(["事项", "数量"])
    for name, (count, _) in sections.items():
        summary.append([SECTIONS[name][0], count])
    columns = ledger.COLUMNS + EXTRA_COLUMNS
    for name, (_, rows) in sections.items():
        ws = wb.create_sheet(SECTIONS[name][0])
        ws.append([title for title, _ in columns])
        for r in rows:
            ws.append(sheet_row([get(r) for _, get in columns]))
    buf = io.BytesIO()
    wb.save(buf)
    return buf.getvalue(), m
