"""Which rows a scoring period selects: a month, quarter or year by the rows' months (the
facts are kept by month), a day (日调度) or a week (周推进) by the rows' instants or
China-time days."""

from __future__ import annotations

from typing import Any

from sqlalchemy import ColumnElement, and_

from services.scoring.domain.facts import by_day
from shared.periods import Period


def selects(
    period: Period,
    month: ColumnElement[Any],
    *,
    at: ColumnElement[Any] | None = None,
    day: ColumnElement[Any] | None = None,
) -> ColumnElement[bool]:
    """The rows of ``period``: ``month`` among its months; for a day or a week, ``day``
    within it or, for rows kept by instant, ``at`` within it (one of them is given)."""
    if not by_day(period):
        return month.in_(period.months)
    if day is not None:
        return day.between(period.start, period.end)
    assert at is not None, "a day selects rows by their day or their instant"
    start, end = period.instants()
    return and_(at >= start, at < end)
