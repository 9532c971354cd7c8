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

SCORING_PERIODS = ("month", "quarter", "year")


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


def parse_period(text: str) -> Period:
    """``2026-11``, ``2026-Q4`` or ``2026``; ``ValueError`` otherwise — a day too: the
    100-point table and the KPIs are assessed by month at the finest (facts are kept by
    month), and a day's figures are on intake's daily board."""
    try:
        return periods.parse_period(text, SCORING_PERIODS)
    except ValueError:
        if periods.PERIOD_RE.fullmatch(text) and text.count("-") == 2:
            raise ValueError(
                "scoring is assessed by month, quarter or year (YYYY-MM, YYYY-Qn, YYYY); "
                "a day's figures are on the daily board (/intake/api/v1/board)"
            ) from None
        raise


def period_arg(text: str) -> Period:
    """``parse_period`` for a query parameter: ``Invalid`` naming ``period`` otherwise."""
    from shared.errors import invalid

    try:
        return parse_period(text)
    except ValueError as exc:
        raise invalid("query", "period", str(exc)) from None
