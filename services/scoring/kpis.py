"""A jurisdiction's KPIs: the queries gather the facts of its subtree, the domain computes
the rates, the coverage and the SX targets (``services.scoring.domain.kpis``)."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping
from datetime import date
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from services.scoring.domain.facts import period_arg
from services.scoring.domain.kpis import (
    DemandTally,
    KpiFacts,
    kpis_of,
    same_day_a_year_before,
    tally_demands,
)
from services.scoring.domain.table import targets_of
from services.scoring.models import demand_facts, enterprises, tier_history, visit_enterprises
from services.scoring.rulesets import rule_set_for
from shared.auth import Principal
from shared.db import UnitOfWork
from shared.events import subtree_prefix
from shared.periods import Period
from shared.scoping import require_visible

f, v, th = demand_facts.c, visit_enterprises.c, tier_history.c


def tiers_on(s: Session, prefix: str, day: date) -> dict[str, str | None]:
    """Each enterprise's growth tier at the end of ``day`` (China time), from its dated
    history; enterprises not registered by then are absent."""
    out: dict[str, str | None] = {}
    for h in s.execute(
        select(th.credit_code, th.growth_tier)
        .join(enterprises, enterprises.c.credit_code == th.credit_code)
        .where(enterprises.c.jurisdiction.startswith(prefix), th.since <= day)
        .order_by(th.since, th.at, th.event_id)
    ):
        out[h.credit_code] = h.growth_tier
    return out


def _demands(s: Session, prefix: str, period: Period) -> DemandTally:
    rows = s.execute(
        select(f.fact, f.demand_code, f.value, f.at)
        .where(f.jurisdiction.startswith(prefix), f.period.in_(period.months))
        .order_by(f.at)
    ).all()
    return tally_demands((row.fact, row.demand_code, row.value) for row in rows)


def _served(s: Session, prefix: str, period: Period) -> set[str]:
    """Enterprises served in the period: a demand accepted, or a visit."""
    return set(
        s.execute(
            select(f.credit_code).where(
                f.fact == "accepted",
                f.jurisdiction.startswith(prefix),
                f.period.in_(period.months),
            )
        ).scalars()
    ) | set(
        s.execute(
            select(v.credit_code).where(
                v.jurisdiction.startswith(prefix), v.period.in_(period.months)
            )
        ).scalars()
    )


def _cohort_closed(s: Session, accepted: set[str], period: Period) -> set[str]:
    """Of the demands accepted in the period, those closed by its end."""
    return set(
        s.execute(
            select(f.demand_code).where(
                f.fact == "closed",
                f.demand_code.in_(list(accepted)),
                f.period <= period.months[-1],
            )
        ).scalars()
    )


def _certified(s: Session, tiers: dict[str, str | None], period: Period) -> dict[str, date]:
    """Enterprises certified high-tech in the period → the day (the first, if several)."""
    rows = s.execute(
        select(th.credit_code, func.min(th.since))
        .where(
            th.growth_tier == "hitech_enterprise",
            th.since >= period.start,
            th.since <= period.end,
            th.credit_code.in_(list(tiers)),
        )
        .group_by(th.credit_code)
    ).all()
    return {code: since for code, since in rows}


def _served_months(s: Session, certified: dict[str, date]) -> dict[str, set[str]]:
    """The months in which each of the certified enterprises was served, at any time."""
    out: dict[str, set[str]] = defaultdict(set)
    for code, month in s.execute(
        select(f.credit_code, f.period).where(
            f.fact == "accepted", f.credit_code.in_(list(certified))
        )
    ).all():
        out[code].add(month)
    for code, month in s.execute(
        select(v.credit_code, v.period).where(v.credit_code.in_(list(certified)))
    ).all():
        out[code].add(month)
    return out


def gather(s: Session, jurisdiction: str, period: Period) -> KpiFacts:
    """The facts of ``jurisdiction``'s subtree the KPIs of ``period`` are computed from."""
    prefix = subtree_prefix(jurisdiction)
    _, _, body = rule_set_for(s, jurisdiction, period.start)
    demands = _demands(s, prefix, period)
    served = _served(s, prefix, period)
    ents = s.execute(select(enterprises).where(enterprises.c.jurisdiction.startswith(prefix))).all()
    # the tiers as they stood at the period's end (a past period stays as it was):
    # only from the dated history, so an enterprise registered later is not counted
    tiers = tiers_on(s, prefix, period.end)
    cohort_closed = _cohort_closed(s, demands.by_fact["accepted"], period)
    certified = _certified(s, tiers, period)
    return KpiFacts(
        targets=targets_of(body),
        demands=demands,
        cohort_closed=cohort_closed,
        served=served,
        tiers=tiers,
        tiers_year_before=tiers_on(s, prefix, same_day_a_year_before(period.end)),
        certified=certified,
        served_months=_served_months(s, certified),
        needs_named_person=sum(1 for e in ents if e.needs_named_person),
        needs_one_plan=sum(1 for e in ents if e.needs_one_plan),
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
