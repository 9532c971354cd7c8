"""Reporting periods in China time: days, ISO weeks, months, quarters, years.

``2026-12-01`` (a day: the daily rhythm, 日调度), ``2026-W48`` (an ISO week),
``2026-11``, ``2026-Q4``, ``2026``. Each use names the
kinds it accepts; anything else is a ``ValueError`` (``period_arg``: a 422).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta

from shared.timezone import CHINA

PERIOD_RE = re.compile(r"([0-9]{4})(?:-W([0-9]{2})|-([0-9]{2})(?:-([0-9]{2}))?|-Q([1-4]))?")
FORMS = {
    "day": "YYYY-MM-DD",
    "week": "YYYY-Www (ISO week)",
    "month": "YYYY-MM",
    "quarter": "YYYY-Qn",
    "year": "YYYY",
}
ALL = ("day", "week", "month", "quarter", "year")


@dataclass(frozen=True)
class Period:
    kind: str  # day | week | month | quarter | year
    label: str
    start: date
    end: date  # inclusive

    def days(self) -> list[date]:
        return [self.start + timedelta(days=i) for i in range((self.end - self.start).days + 1)]

    def closed_on(self, today: date) -> bool:
        return self.end < today

    def instants(self) -> tuple[datetime, datetime]:
        """The period as UTC instants, half-open: from midnight in China on its first day
        to midnight after its last."""
        return (
            datetime.combine(self.start, time.min, CHINA).astimezone(UTC),
            datetime.combine(self.end + timedelta(days=1), time.min, CHINA).astimezone(UTC),
        )

    @property
    def months(self) -> tuple[str, ...]:
        """The ``YYYY-MM`` months the period covers (a week: the one or two it touches)."""
        out: list[str] = []
        day = self.start.replace(day=1)
        while day <= self.end:
            out.append(f"{day.year:04d}-{day.month:02d}")
            day = _month_end(day) + timedelta(days=1)
        return tuple(out)


def _month_end(first: date) -> date:
    return date(first.year + first.month // 12, first.month % 12 + 1, 1) - timedelta(days=1)


def parse_period(text: str, kinds: tuple[str, ...] = ALL) -> Period:
    """The period ``text`` names, of one of ``kinds``; ``ValueError`` otherwise."""
    m = PERIOD_RE.fullmatch(text)
    kind = None
    if m:
        kind = (
            "week"
            if m.group(2)
            else "day"
            if m.group(4)
            else "month"
            if m.group(3)
            else "quarter"
            if m.group(5)
            else "year"
        )
    if m is None or kind not in kinds or not 1900 <= int(m.group(1)) <= 2200:
        raise ValueError("a period is " + ", ".join(FORMS[k] for k in kinds))
    year = int(m.group(1))
    if kind == "week":
        week = int(m.group(2))
        try:
            start = date.fromisocalendar(year, week, 1)
        except ValueError as exc:
            raise ValueError(f"{year} has no ISO week {week}") from exc
        return Period(kind, text, start, start + timedelta(days=6))
    if kind == "day":
        try:
            day = date(year, int(m.group(3)), int(m.group(4)))
        except ValueError as exc:
            raise ValueError(f"{text} is not a date of the calendar") from exc
        return Period(kind, text, day, day)
    if kind == "month":
        month = int(m.group(3))
        if not 1 <= month <= 12:
            raise ValueError("a month is 01 to 12")
        start = date(year, month, 1)
        return Period(kind, text, start, _month_end(start))
    if kind == "quarter":
        q = int(m.group(5))
        return Period(kind, text, date(year, 3 * q - 2, 1), _month_end(date(year, 3 * q, 1)))
    return Period(kind, text, date(year, 1, 1), date(year, 12, 31))


def period_of(day: date, kind: str) -> Period:
    """The day, week, month, quarter or year containing ``day``."""
    if kind == "day":
        return parse_period(day.isoformat())
    if kind == "week":
        y, w, _ = day.isocalendar()
        return parse_period(f"{y}-W{w:02d}")
    if kind == "month":
        return parse_period(f"{day.year}-{day.month:02d}")
    if kind == "quarter":
        return parse_period(f"{day.year}-Q{(day.month - 1) // 3 + 1}")
    return parse_period(f"{day.year}")


def previous_period(day: date, kind: str) -> Period:
    """The last period of ``kind`` that ended before ``day``'s period began."""
    return period_of(period_of(day, kind).start - timedelta(days=1), kind)


def period_arg(text: str, kinds: tuple[str, ...] = ALL) -> Period:
    """``parse_period`` for a query parameter: a 422 naming ``period`` otherwise."""
    from shared.errors import invalid

    try:
        return parse_period(text, kinds)
    except ValueError as exc:
        raise invalid("query", "period", str(exc)) from None
