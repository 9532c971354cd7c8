"""A jurisdiction's KPIs: the queries gather the facts of its subtree, the domain computes
the rates, the coverage and the SX targets (``services.scoring.domain.kpis``)."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date
from typing import Any

from sqlalchemy import (
    ColumnElement,
    CompoundSelect,
    Integer,
    and_,
    cast,
    extract,
    func,
    literal,
    or_,
    select,
    union,
)
from sqlalchemy.orm import Session

from services.scoring.domain.facts import by_day, period_arg
from services.scoring.domain.kpis import (
    INCUBATION_MONTHS,
    DemandTally,
    KpiFacts,
    Tiers,
    kpis_of,
    same_day_a_year_before,
    tally_demands,
)
from services.scoring.domain.table import targets_of
from services.scoring.models import (
    demand_facts,
    demand_months,
    enterprises,
    tier_history,
    visit_enterprises,
)
from services.scoring.rulesets import rule_set_for
from services.scoring.spans import selects
from shared.auth import Principal
from shared.db import UnitOfWork
from shared.events import subtree_prefix
from shared.periods import Period
from shared.scoping import require_visible, under

dm, v, th, f = demand_months.c, visit_enterprises.c, tier_history.c, demand_facts.c


def _tiers(s: Session, prefix: str, day: date, period: Period | None = None) -> Tiers:
    """The subtree's enterprises by growth tier at the end of ``day`` (China time), from
    their dated history — an enterprise not registered by then is not counted — and, with
    ``period``, how many of each tier were served in it. Counted in the database: one
    sorted pass over the history (a window), the served joined as a set."""
    ranked = (
        select(
            th.credit_code,
            th.growth_tier,
            func.row_number()
            .over(
                partition_by=th.credit_code,
                order_by=(th.since.desc(), th.at.desc(), th.event_id.desc()),
            )
            .label("nth"),
        )
        .join(enterprises, enterprises.c.credit_code == th.credit_code)
        .where(under(enterprises.c.jurisdiction, prefix), th.since <= day)
        .subquery()
    )
    source: Any = ranked
    served_count: Any = literal(0)
    if period is not None:
        served = _served(prefix, period).subquery()
        source = ranked.outerjoin(served, served.c.code == ranked.c.credit_code)
        served_count = func.count(served.c.code)
    rows = s.execute(
        select(ranked.c.growth_tier, func.count(), served_count)
        .select_from(source)
        .where(ranked.c.nth == 1)
        .group_by(ranked.c.growth_tier)
    )
    counts, served_counts = {}, {}
    for tier, n, n_served in rows:
        counts[tier] = int(n)
        if n_served:
            served_counts[tier] = int(n_served)
    return Tiers(counts, served_counts)


def _demands(s: Session, prefix: str, period: Period) -> tuple[DemandTally, int]:
    """The period's demands counted from their months in one pass (``domain.kpis.
    tally_demands``' rule): demands accepted, closed and solved in it, the last close of
    each closed one, the ratings — and the cohort: of the demands accepted in the period,
    how many closed by its end."""
    last = period.months[-1]
    final = and_(dm.closed, or_(dm.next_close.is_(None), dm.next_close > last))
    row = s.execute(
        select(
            func.count().filter(dm.accepted),  # a demand is accepted once
            func.count(dm.demand_code.distinct()).filter(dm.solved),
            func.coalesce(func.sum(dm.rating_sum), 0),
            func.coalesce(func.sum(dm.ratings), 0),
            # each closed demand's last close in the period: its last month with a close
            func.count().filter(final),
            func.sum(dm.last_close_value).filter(final),
            func.count(dm.last_close_value).filter(final),
            func.count().filter(dm.accepted, dm.first_close <= last),
        ).where(under(dm.jurisdiction, prefix), dm.month.in_(period.months))
    ).one()
    accepted, solved, rating_sum, ratings, closed, on_time, timed, cohort_closed = row
    tally = DemandTally(
        counts={"accepted": int(accepted), "closed": int(closed), "solved": int(solved)},
        on_time=int(on_time or 0),
        timed=int(timed),
        rating_sum=int(rating_sum),
        ratings=int(ratings),
    )
    return tally, int(cohort_closed)


def _day_demands(s: Session, prefix: str, period: Period) -> tuple[DemandTally, int]:
    """A day's or a week's demands (日调度, 周推进), by the same rule from their facts
    themselves (``domain.kpis.tally_demands``): a day or a week has few."""
    rows = s.execute(
        select(f.fact, f.demand_code, f.value)
        .where(under(f.jurisdiction, prefix), selects(period, f.period, at=f.at))
        .order_by(f.at, f.event_id)
    ).all()
    tally = tally_demands((r.fact, r.demand_code, r.value) for r in rows)
    accepted = {r.demand_code for r in rows if r.fact == "accepted"}
    closed = {r.demand_code for r in rows if r.fact == "closed"}
    return tally, len(accepted & closed)


def _served(prefix: str, period: Period) -> CompoundSelect[Any]:
    """Enterprises served in the period, each once (a query): a demand accepted, or a
    visit."""
    if by_day(period):
        demanded = select(f.credit_code.label("code")).where(
            f.fact == "accepted",
            f.credit_code.is_not(None),
            under(f.jurisdiction, prefix),
            selects(period, f.period, at=f.at),
        )
    else:
        demanded = select(dm.accepted_by.label("code")).where(
            dm.accepted, under(dm.jurisdiction, prefix), dm.month.in_(period.months)
        )
    return union(
        demanded,
        select(v.credit_code.label("code")).where(
            under(v.jurisdiction, prefix), selects(period, v.period, day=v.day)
        ),
    )


def _registered(prefix: str, day: date) -> Any:
    """The subtree's enterprises with a tier on record by ``day`` (a query)."""
    return (
        select(th.credit_code)
        .join(enterprises, enterprises.c.credit_code == th.credit_code)
        .where(under(enterprises.c.jurisdiction, prefix), th.since <= day)
    )


def _newly_certified(prefix: str, period: Period) -> Any:
    """The subtree's tier changes to high-tech in the period (a query's conditions)."""
    return (
        th.growth_tier == "hitech_enterprise",
        th.since >= period.start,
        th.since <= period.end,
        th.credit_code.in_(_registered(prefix, period.end)),
    )


def _month_number(month: ColumnElement[str]) -> ColumnElement[int]:
    """A ``YYYY-MM`` column as a month count (year × 12 + month)."""
    year = cast(func.substr(month, 1, 4), Integer)
    return year * 12 + cast(func.substr(month, 6, 2), Integer)


def _incubation(s: Session, prefix: str, period: Period) -> tuple[int, int]:
    """How many of the subtree's enterprises were certified high-tech in the period, and
    how many of those were served — a demand accepted or a visit, anywhere — in the 24
    months up to their (first) certification in it, month by month
    (``domain.kpis.incubated``' rule): one count in the database."""
    cert = (
        select(th.credit_code.label("code"), func.min(th.since).label("since"))
        .where(*_newly_certified(prefix, period))
        .group_by(th.credit_code)
        .subquery()
    )
    at = extract("year", cert.c.since) * 12 + extract("month", cert.c.since)

    def within(month: ColumnElement[str]) -> ColumnElement[bool]:
        n = _month_number(month)
        return and_(n <= at, n >= at - INCUBATION_MONTHS)

    by_demand = (
        select(literal(1))
        .where(dm.accepted, dm.accepted_by == cert.c.code, within(dm.month))
        .exists()
    )
    by_visit = select(literal(1)).where(v.credit_code == cert.c.code, within(v.period)).exists()
    certified, incubated = s.execute(
        select(func.count(), func.count().filter(or_(by_demand, by_visit))).select_from(cert)
    ).one()
    return int(certified), int(incubated)


def gather(s: Session, jurisdiction: str, period: Period) -> KpiFacts:
    """The facts of ``jurisdiction``'s subtree the KPIs of ``period`` are computed from."""
    prefix = subtree_prefix(jurisdiction)
    _, _, body = rule_set_for(s, jurisdiction, period.start)
    count = _day_demands if by_day(period) else _demands
    demands, cohort_closed = count(s, prefix, period)
    certified, incubated = _incubation(s, prefix, period)
    flags = s.execute(
        select(
            func.count().filter(enterprises.c.needs_named_person),
            func.count().filter(enterprises.c.needs_one_plan),
        ).where(under(enterprises.c.jurisdiction, prefix))
    ).one()
    # the tiers as they stood at the period's end (a past period stays as it was):
    # only from the dated history, so an enterprise registered later is not counted
    return KpiFacts(
        targets=targets_of(body),
        demands=demands,
        cohort_closed=cohort_closed,
        tiers=_tiers(s, prefix, period.end, period),
        tiers_year_before=_tiers(s, prefix, same_day_a_year_before(period.end)),
        certified=certified,
        incubated=incubated,
        needs_named_person=int(flags[0]),
        needs_one_plan=int(flags[1]),
    )


def kpis(uow: UnitOfWork, actor: Principal, query: Mapping[str, Any]) -> dict[str, Any]:
    """A jurisdiction's KPIs for a period (``query``: ``jurisdiction``, ``period``): the
    loop's rates, station coverage (CX 第十二条) and the SX growth targets, each with its
    target."""
    jurisdiction = query["jurisdiction"]
    require_visible(actor, jurisdiction)
    period = period_arg(query["period"])
    with uow.read() as s:
        facts = gather(s, jurisdiction, period)
    return kpis_of(jurisdiction, period.label, facts)
