"""Scorecards and rankings (table A.1): each unit's inputs counted in the database
(``aggregates``), evaluated and ranked by the domain (``services.scoring.domain.scorecard``);
the records behind an item a page at a time; what-if evaluation of raw figures under a rule
set. ``collect`` attributes every fact in Python, by the domain's rule: the reference the
aggregates are checked against, and how a day or a week (日调度, 周推进: a few facts) is
counted — the aggregates are kept by month. Manual records are entered for a month: they
count in months, quarters and years, not in a day or a week."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from sqlalchemy import Row, select
from sqlalchemy.orm import Session

from services.scoring.aggregates import PAGE, Tallied, records, tally
from services.scoring.domain.evaluation import Inputs, evaluate
from services.scoring.domain.facts import CO_HANDLED, by_day, months_long, period_arg
from services.scoring.domain.scorecard import (
    CoHandled,
    Collected,
    DemandFact,
    ManualRecord,
    OwnerSpell,
    ScoringFacts,
    VisitTally,
    card,
    item_inputs,
    ranked,
    records_for,
)
from services.scoring.domain.scorecard import collect as attribute_all
from services.scoring.models import (
    demand_facts,
    demand_owners,
    manual_records,
    owner_history,
    tally_records,
    units,
)
from services.scoring.records import find_unit
from services.scoring.rulesets import rule_set_for, rule_set_version
from services.scoring.spans import selects
from shared.auth import Principal
from shared.db import UnitOfWork
from shared.periods import Period
from shared.scoping import require_visible
from shared.timezone import china_today
from shared.usecases import Invalid


def gather(s: Session, period: Period, unit_ids: list[str]) -> ScoringFacts:
    """The facts behind the units' scorecards in the period (one query per source for
    all units)."""
    t, f, o, h, m = (
        tally_records.c,
        demand_facts.c,
        demand_owners.c,
        owner_history.c,
        manual_records.c,
    )
    visits = [
        VisitTally(row.unit_id, row.event_id, row.period)
        for row in s.execute(
            select(t.unit_id, t.event_id, t.period)
            .where(
                t.unit_id.in_(unit_ids), t.item == "visits", selects(period, t.period, day=t.day)
            )
            .order_by(t.period, t.event_id)
        )
    ]
    codes = select(h.demand_code).where(h.unit_id.in_(unit_ids)).distinct().scalar_subquery()
    owners = [
        OwnerSpell(row.demand_code, row.since, row.unit_id)
        for row in s.execute(
            select(h.demand_code, h.since, h.unit_id, h.event_id)
            .where(h.demand_code.in_(codes))
            .order_by(h.since, h.event_id)
        )
    ]
    categories = dict(
        s.execute(select(o.demand_code, o.category).where(o.demand_code.in_(codes))).all()
    )
    demands = [
        DemandFact(row.demand_code, row.fact, row.value, row.at, row.event_id)
        for row in s.execute(
            select(f.demand_code, f.fact, f.value, f.at, f.event_id)
            .where(
                f.demand_code.in_(codes),
                selects(period, f.period, at=f.at),
                f.fact != "accepted",
            )
            .order_by(f.at, f.event_id)
        )
    ]
    records = [
        ManualRecord(row.id, row.unit_id, row.kind, row.value, row.evidence, row.period)
        for row in s.execute(
            select(manual_records)
            .where(m.unit_id.in_(unit_ids), m.period.in_(period.months), m.retracted_at.is_(None))
            .order_by(m.at, m.id)
        )
        if not by_day(period)  # entered for a month
    ]
    cohandled = [
        CoHandled(row.unit_id, row.event_id, row.demand_code, row.item)
        for row in s.execute(
            select(t.unit_id, t.event_id, t.demand_code, t.item)
            .where(
                t.unit_id.in_(unit_ids),
                t.stage == CO_HANDLED,
                selects(period, t.period, day=t.day),
            )
            .order_by(t.recorded_at, t.event_id)
        )
    ]
    return ScoringFacts(visits, owners, categories, demands, records, cohandled)


def collect(s: Session, period: Period, unit_ids: list[str]) -> dict[str, Collected]:
    """Each unit's counts, ratings and overrides in the period, with the records behind
    them."""
    if not unit_ids:
        return {}
    return attribute_all(unit_ids, months_long(period), gather(s, period, unit_ids))


def cards_for(
    s: Session, period: Period, unit_rows: Sequence[Row[Any]], *, records_of: str | None = None
) -> list[dict[str, Any]]:
    """The units' scorecards, each under the rule set in force at the period's start; the
    card of the unit ``records_of`` lists each item's first records (``PAGE``). A day's or
    a week's facts are attributed one by one (``collect``), a month's and longer periods'
    added up from the units' monthly tallies (``tally``)."""
    ids = [u.id for u in unit_rows]
    collected = collect(s, period, ids) if by_day(period) else None
    if collected is not None:
        tallied = {uid: Tallied(c.inputs, c.totals) for uid, c in collected.items()}
    else:
        tallied = tally(s, period, ids)
    rule_sets: dict[str, tuple[str, int, Mapping[str, Any]]] = {}
    cards = []
    for u in unit_rows:
        if u.jurisdiction not in rule_sets:  # peers share their jurisdiction's
            rule_sets[u.jurisdiction] = rule_set_for(s, u.jurisdiction, period.start)
        rule_set = rule_sets[u.jurisdiction]
        got = tallied.get(u.id) or Tallied(Inputs(months=months_long(period)))
        c = card(dict(u._mapping), period.label, rule_set, got.inputs, got.totals)
        if u.id == records_of:
            by_item = {i["item"]: i for p in rule_set[2]["parts"] for i in p["items"]}
            for part in c["parts"]:
                for item in part["items"]:
                    rule = by_item[item["item"]]
                    if collected is not None:
                        listed = records_for(rule, collected[u.id].records)
                        item["records"], item["records_total"] = listed[:PAGE], len(listed)
                    else:  # each input's total is known from the tally: no count query
                        item["records"], item["records_total"] = records(
                            s, period, u.id, item_inputs(rule), 0, PAGE, got.totals
                        )
        cards.append(c)
    return cards


def _peers(s: Session, jurisdiction: str, unit_type: str) -> Sequence[Row[Any]]:
    return s.execute(
        select(units).where(units.c.jurisdiction == jurisdiction, units.c.type == unit_type)
    ).all()


def scorecard(uow: UnitOfWork, actor: Principal, query: Mapping[str, Any]) -> dict[str, Any]:
    """One unit's scorecard (``query``: ``unit``, ``period``), ranked among the units of
    its type in its jurisdiction."""
    period = period_arg(query["period"])
    with uow.read() as s:
        u = find_unit(s, actor, query["unit"])
        peers = _peers(s, u.jurisdiction, u.type)
        cards = ranked(cards_for(s, period, peers, records_of=u.id))
    return next(c for c in cards if c["unit"]["id"] == u.id)


def item_records(uow: UnitOfWork, actor: Principal, query: Mapping[str, Any]) -> dict[str, Any]:
    """The records behind one item of a unit's scorecard, a page at a time (``query``:
    ``unit``, ``period``, ``item``, ``offset``, ``limit``), each naming its input."""
    period = period_arg(query["period"])
    offset, limit = query.get("offset", 0), query.get("limit", PAGE)
    with uow.read() as s:
        u = find_unit(s, actor, query["unit"])
        _, _, body = rule_set_for(s, u.jurisdiction, period.start)
        by_item = {i["item"]: i for p in body["parts"] for i in p["items"]}
        if query["item"] not in by_item:
            raise Invalid.field(
                "item",
                f"not an item of the rule set in force ({', '.join(by_item)})",
                where="query",
            )
        if by_day(period):
            listed = records_for(by_item[query["item"]], collect(s, period, [u.id])[u.id].records)
            page, total = listed[offset : offset + limit], len(listed)
        else:
            names = item_inputs(by_item[query["item"]])
            page, total = records(s, period, u.id, names, offset, limit)
    return {
        "unit": u.id,
        "period": period.label,
        "item": query["item"],
        "total": total,
        "offset": offset,
        "items": page,
    }


def rankings(uow: UnitOfWork, actor: Principal, query: Mapping[str, Any]) -> dict[str, Any]:
    """The ranking of one jurisdiction's departments or staff for a period (``query``:
    ``jurisdiction``, ``unit_type``, ``period``)."""
    jurisdiction, unit_type = query["jurisdiction"], query["unit_type"]
    require_visible(actor, jurisdiction)
    period = period_arg(query["period"])
    with uow.read() as s:
        cards = ranked(cards_for(s, period, _peers(s, jurisdiction, unit_type)))
    return {
        "jurisdiction": jurisdiction,
        "unit_type": unit_type,
        "period": period.label,
        "items": cards,
    }


def what_if(uow: UnitOfWork, actor: Principal, command: Mapping[str, Any]) -> dict[str, Any]:
    """Evaluate raw counts and ratings under a given version or the one in force."""
    jurisdiction = command.get("jurisdiction") or actor.jurisdiction
    require_visible(actor, jurisdiction)
    with uow.read() as s:
        if command.get("version") is not None:
            source, version, body = rule_set_version(s, jurisdiction, command["version"])
        else:
            source, version, body = rule_set_for(s, jurisdiction, china_today())
    inputs = Inputs(
        counts=dict(command.get("counts") or {}),
        ratings={
            k: [float(v)] if not isinstance(v, list) else [float(x) for x in v]
            for k, v in (command.get("ratings") or {}).items()
        },
        overrides=dict(command.get("overrides") or {}),
    )
    return {
        "rule_set": {"jurisdiction": source, "version": version, "name": body.get("name")},
        **evaluate(body, inputs),
    }
