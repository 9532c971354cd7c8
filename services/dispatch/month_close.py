"""The alliance's calendar months and the month close (CX 第十七条).

Pure Python: no Flask, SQLAlchemy or kombu. An agency whose final share of the month
reaches a cap (达到上限: a share equal to the cap counts) is paused for the next month
(enterprise orders excepted); if that would pause every member of a category, the one with
the lowest share stays active. During the month the rotation only skips an agency that
would go *above* a cap (one "may hold at most" 50 % / 30 %: ``alliance.cap_breaches``).
"""

from __future__ import annotations

import calendar
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from fractions import Fraction

from services.dispatch.alliance import (
    CATEGORIES,
    Agency,
    AllianceRules,
    MonthTally,
    percent,
    rotation_order,
)


def month_bounds(month: str) -> tuple[date, date]:
    """``2026-11`` → (2026-11-01, 2026-11-30)."""
    y, m = (int(x) for x in month.split("-"))
    return date(y, m, 1), date(y, m, calendar.monthrange(y, m)[1])


def month_of(day: date) -> str:
    return f"{day.year:04d}-{day.month:02d}"


def next_month(month: str) -> str:
    _, last = month_bounds(month)
    return month_of(last + timedelta(days=1))


@dataclass(frozen=True)
class Pause:
    agency_id: str
    until: date
    reason: str


@dataclass(frozen=True)
class MonthClose:
    pauses: tuple[Pause, ...]
    kept: tuple[tuple[str, str], ...]  # (agency, why it stays active despite a cap)


def _final_excess(
    rules: AllianceRules, tally: MonthTally, agency: str
) -> tuple[Fraction, list[str]]:
    """The agency's worst share relative to its cap, and the caps it ended at or above."""
    worst = Fraction(0)
    reasons: list[str] = []
    if tally.total_orders <= rules.min_monthly_volume or tally.total_orders == 0:
        return worst, reasons
    for (a, item), n in sorted(tally.orders.items()):
        if a != agency or tally.item_orders[item] <= rules.min_monthly_volume:
            continue
        share = tally.item_share(a, item)
        worst = max(worst, share / Fraction(rules.item_cap_percent, 100))
        if share >= Fraction(rules.item_cap_percent, 100):
            reasons.append(f"{n} of {tally.item_orders[item]} orders of {item} ({percent(share)})")
    vshare = tally.value_share(agency)
    worst = max(worst, vshare / Fraction(rules.value_cap_percent, 100))
    if vshare >= Fraction(rules.value_cap_percent, 100):
        reasons.append(f"{percent(vshare)} of the service value")
    return worst, reasons


def close_month(
    month: str, rules: AllianceRules, tally: MonthTally, agencies: Sequence[Agency]
) -> MonthClose:
    """Who is paused for the next month (第十七条), with the product's one exception."""
    _, last = month_bounds(next_month(month))
    pauses: list[Pause] = []
    kept: list[tuple[str, str]] = []
    for category in CATEGORIES:
        members = [a for a in rotation_order(agencies, category) if a.status != "exited"]
        over = []
        for a in members:
            worst, reasons = _final_excess(rules, tally, a.id)
            if reasons:
                over.append((worst, a, reasons))
        if not over:
            continue
        if len(over) == len(members):  # all would be paused: the lowest share stays active
            over.sort(key=lambda t: (t[0], -t[1].rank_basis, t[1].id))
            _, keep, reasons = over.pop(0)
            kept.append(
                (
                    keep.id,
                    f"ended {month} at a cap ({'; '.join(reasons)}) but stays active: every "
                    f"{category} member would be paused and it has the lowest share",
                )
            )
        for _, a, reasons in over:
            pauses.append(
                Pause(a.id, last, f"ended {month} at a cap: {'; '.join(reasons)} (第十七条)")
            )
    return MonthClose(tuple(pauses), tuple(kept))
