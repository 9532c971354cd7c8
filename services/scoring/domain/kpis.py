"""A jurisdiction's KPIs for a period, computed from the facts its queries gathered: the
loop's rates, station coverage (CX 第十二条) and the SX growth targets, each with its
target.

Pure Python: no Flask, SQLAlchemy or kombu.

* closure rate: of the demands accepted in the period (a cohort), those closed by its end
  — never above 1; on time: the last close of each demand closed in the period decides;
  problem solving: solved over closed; satisfaction: the mean of the revisit ratings;
* coverage: the share of the jurisdiction's tech SMEs (high-tech candidates) served in
  the period — a demand accepted or a visit — by their tier at the period's end;
* incubated: the newly certified high-tech enterprises served in the 24 months up to
  their certification (month granularity);
* SX: tech SMEs and high-tech enterprises vs the base year's counts (doubling) and vs the
  same day a year earlier (annual growth); the "两清零" flags still open.
"""

from __future__ import annotations

import calendar
from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date
from typing import Any

HITECH_TIERS = ("hitech_enterprise", "little_giant")
INCUBATION_MONTHS = 24


@dataclass
class DemandTally:
    """The period's demand facts counted: how many demands reached each fact, how many
    closed demands' last close was timed and on time, the revisit ratings' sum and number.
    The queries count them in the database; ``tally_demands`` is the rule over the facts."""

    counts: dict[str, int] = field(default_factory=dict)
    on_time: int = 0
    timed: int = 0
    rating_sum: int = 0
    ratings: int = 0

    def count(self, fact: str) -> int:
        return self.counts.get(fact, 0)


def tally_demands(facts: Iterable[tuple[str, str, int | None]]) -> DemandTally:
    """``(fact, demand code, value)`` in the order they happened: each demand once per
    fact; a closed demand's last close decides whether it was on time."""
    by_fact: dict[str, set[str]] = defaultdict(set)
    last_close: dict[str, int | None] = {}
    ratings: list[int] = []
    for fact, code, value in facts:
        if fact == "rating":
            assert value is not None  # a revisit always carries its rating
            ratings.append(int(value))
            continue
        by_fact[fact].add(code)
        if fact == "closed":
            last_close[code] = value
    timed = [v for v in last_close.values() if v is not None]
    return DemandTally(
        counts={fact: len(codes) for fact, codes in by_fact.items()},
        on_time=sum(timed),
        timed=len(timed),
        rating_sum=sum(ratings),
        ratings=len(ratings),
    )


@dataclass(frozen=True)
class Tiers:
    """How many of the jurisdiction's enterprises stood in each growth tier (None: none) on
    a day, and how many of those were served in the period. The queries count them in the
    database; ``count_tiers`` is the rule over each enterprise's tier and the served."""

    counts: Mapping[str | None, int] = field(default_factory=dict)
    served: Mapping[str | None, int] = field(default_factory=dict)

    def count(self, *wanted: str) -> int:
        return sum(self.counts.get(tier, 0) for tier in wanted)

    def served_in(self, *wanted: str) -> int:
        return sum(self.served.get(tier, 0) for tier in wanted)


def count_tiers(tiers: Mapping[str, str | None], served: Iterable[str] = ()) -> Tiers:
    """``tiers``: each enterprise's tier on the day; ``served``: the enterprises served in
    the period (any, registered or not: only those with a tier count)."""
    counts: dict[str | None, int] = defaultdict(int)
    served_counts: dict[str | None, int] = defaultdict(int)
    for tier in tiers.values():
        counts[tier] += 1
    for code in set(served):
        if code in tiers:
            served_counts[tiers[code]] += 1
    return Tiers(dict(counts), dict(served_counts))


@dataclass(frozen=True)
class KpiFacts:
    """What the KPIs are computed from."""

    targets: Mapping[str, Any]
    demands: DemandTally
    # of the demands accepted in the period, how many closed by its end
    cohort_closed: int = 0
    # the enterprises by growth tier at the period's end, and how many of each were served
    # in the period (a demand accepted, or a visit); the tiers on the same day a year before
    tiers: Tiers = field(default_factory=Tiers)
    tiers_year_before: Tiers = field(default_factory=Tiers)
    # newly certified high-tech enterprises in the period, and how many of them were
    # incubated (served in the 24 months up to their certification: ``incubated``' rule)
    certified: int = 0
    incubated: int = 0
    needs_named_person: int = 0
    needs_one_plan: int = 0


def share(n: int, d: int) -> float | None:
    return round(n / d, 4) if d else None


def growth(now: int, then: int) -> float | None:
    return round((now - then) / then, 4) if then else None


def months_before(since: date, month: str) -> int:
    """How many months ``month`` (YYYY-MM) lies before ``since``'s month (10**6: after it)."""
    y, m = int(month[:4]), int(month[5:7])
    gap = (since.year - y) * 12 + since.month - m
    return gap if gap >= 0 else 10**6


def same_day_a_year_before(day: date) -> date:
    last = calendar.monthrange(day.year - 1, day.month)[1]
    return date(day.year - 1, day.month, min(day.day, last))


def incubated(certified: Mapping[str, date], served_months: Mapping[str, set[str]]) -> set[str]:
    """The certified enterprises (→ the day of their certification) served in the 24 months
    up to their certification (``served_months``: each one's months with a service, any
    time). The queries count them in the database (``services.scoring.kpis``)."""
    return {
        code
        for code, since in certified.items()
        if any(months_before(since, m) <= INCUBATION_MONTHS for m in served_months.get(code, ()))
    }


def kpis_of(jurisdiction: str, period: str, facts: KpiFacts) -> dict[str, Any]:
    return {
        "jurisdiction": jurisdiction,
        "period": period,
        "demands": demand_rates(facts),
        "station_coverage": station_coverage(facts),
        "sx_targets": sx_targets(facts),
    }


def demand_rates(facts: KpiFacts) -> dict[str, Any]:
    d = facts.demands
    accepted, closed, solved = d.count("accepted"), d.count("closed"), d.count("solved")
    return {
        "accepted": accepted,
        "closed": closed,
        "solved": solved,
        "closure_rate": share(facts.cohort_closed, accepted),
        "on_time_rate": share(d.on_time, d.timed),
        "problem_solving_rate": share(solved, closed),
        "satisfaction": round(d.rating_sum / d.ratings, 2) if d.ratings else None,
        "ratings": d.ratings,
    }


def station_coverage(facts: KpiFacts) -> dict[str, Any]:
    tiers = facts.tiers
    tech, tech_served = tiers.count("tech_sme"), tiers.served_in("tech_sme")
    candidates = tiers.count("hitech_candidate")
    candidates_served = tiers.served_in("hitech_candidate")
    t = facts.targets
    return {
        "tech_smes": tech,
        "tech_smes_served": tech_served,
        "tech_sme_coverage": share(tech_served, tech),
        "tech_sme_target": t["tech_sme_coverage"],
        "hitech_candidates": candidates,
        "hitech_candidates_served": candidates_served,
        "hitech_candidate_coverage": share(candidates_served, candidates),
        "hitech_candidate_target": t["hitech_candidate_coverage"],
        "newly_certified_hitech": facts.certified,
        "incubated": facts.incubated,
        "incubated_share": share(facts.incubated, facts.certified),
        "incubated_target": t["station_incubated_share"],
    }


def sx_targets(facts: KpiFacts) -> dict[str, Any]:
    tech_now = facts.tiers.count("tech_sme")
    tech_then = facts.tiers_year_before.count("tech_sme")
    hitech_now = facts.tiers.count(*HITECH_TIERS)
    hitech_then = facts.tiers_year_before.count(*HITECH_TIERS)
    t = facts.targets
    return {
        "tech_smes": tech_now,
        "hitech_enterprises": hitech_now,
        "base_year": t["base_year"],
        "base_tech_smes": t["base_tech_smes"],
        "base_hitech_enterprises": t["base_hitech_enterprises"],
        "tech_smes_vs_base": share(tech_now, t["base_tech_smes"] or 0),
        "hitech_vs_base": share(hitech_now, t["base_hitech_enterprises"] or 0),
        "doubling_target": 2.0,
        "tech_sme_growth": growth(tech_now, tech_then),
        "hitech_growth": growth(hitech_now, hitech_then),
        "growth_target": t["annual_growth"],
        "needs_named_person": facts.needs_named_person,
        "needs_one_plan": facts.needs_one_plan,
    }
