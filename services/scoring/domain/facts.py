"""Which A.1 item and month an event counts towards, and the periods scored.

Pure Python: no Flask, SQLAlchemy or kombu.
"""

from __future__ import annotations

import re
from datetime import datetime

from shared import periods
from shared.periods import Period
from shared.timezone import CHINA

MONTH_RE = re.compile(r"^(19|20|21)[0-9]{2}-(0[1-9]|1[0-2])\Z")

# Table A.1 "Solving demands": technology demands earn points per stage
# (collected, analysed, published, matched, solved); every other category is a
# "general demand" (R&D expense, IP, policy…) that earns a point when solved.
TECHNOLOGY_ITEM = "technology_demands"
GENERAL_ITEM = "general_demands"
TECH_STAGES = ("collected", "analysed", "published", "matched", "solved")

# A day (日调度, ``YYYY-MM-DD``) or an ISO week (周推进, ``YYYY-Www``) is counted from the
# facts' instants and the visits' days (``by_day``); a month, quarter or year from the facts'
# months.
SCORING_PERIODS = ("day", "week", "month", "quarter", "year")

# A co-handler's reported work on a complex demand (XN 联合处置: cohandling.reported, outcome
# done) counts for the co-handling department as a demand it helped solve (A.1 解决企业需求:
# 帮助企业解决…的数量): the demand category's solving input, once per demand, in the month
# of its feedback. It is tallied per unit like a visit (``tally_records``, stage below).
CO_HANDLED = "co_handled"


def period_of(at: datetime) -> str:
    """The scoring month of an instant: ``YYYY-MM`` in China time."""
    return at.astimezone(CHINA).strftime("%Y-%m")


def demand_item(category: str) -> str:
    return TECHNOLOGY_ITEM if category == "technology" else GENERAL_ITEM


def stage_input(fact: str, category: str | None) -> str | None:
    """The count input a demand's stage feeds: every stage of a technology demand
    (``tech_<stage>``), only the solving of a general one (``general_solved``)."""
    if category == "technology":
        return f"tech_{fact}"
    if fact == "solved":
        return "general_solved"
    return None


def co_handled_input(item: str) -> str:
    """The input a co-handled demand of A.1 item ``item`` feeds: its solving."""
    return "tech_solved" if item == TECHNOLOGY_ITEM else "general_solved"


CO_HANDLED_INPUTS = ("general_solved", "tech_solved")


def parse_period(text: str) -> Period:
    """``2026-12-01``, ``2026-W48``, ``2026-11``, ``2026-Q4`` or ``2026``; ``ValueError``
    otherwise."""
    return periods.parse_period(text, SCORING_PERIODS)


def by_day(period: Period) -> bool:
    """Whether the period is counted day by day (a day, a week), not month by month."""
    return period.kind in ("day", "week")


def months_long(period: Period) -> float:
    """The period's length in months, for the items the table states per year (a day or a
    week: its share of its year's months, so it is judged on its rate like a month is)."""
    if by_day(period):
        first = period.start.replace(month=1, day=1)
        year_days = (first.replace(year=first.year + 1) - first).days
        return 12 * ((period.end - period.start).days + 1) / year_days
    return float(len(period.months))


def period_arg(text: str) -> Period:
    """``parse_period`` for a query parameter: ``Invalid`` naming ``period`` otherwise."""
    from shared.errors import invalid

    try:
        return parse_period(text)
    except ValueError as exc:
        raise invalid("query", "period", str(exc)) from None
