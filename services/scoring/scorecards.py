"""Scorecards and rankings (table A.1): each unit's inputs counted in the database
(``aggregates``), evaluated and ranked by the domain (``services.scoring.domain.scorecard``);
the records behind an item a page at a time; what-if evaluation of raw figures under a rule
set. ``collect`` attributes every fact in Python, by the domain's rule: the reference the
aggregates are checked against."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from sqlalchemy import Row, select
from sqlalchemy.orm import Session

from services.scoring.aggregates import PAGE, Tallied, records, tally
from services.scoring.domain.evaluation import Inputs, evaluate
from services.scoring.domain.facts import CO_HANDLED, period_arg
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
            .where(t.unit_id.in_(unit_ids), t.item == "visits", t.period.in_(period.months))
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
            .where(f.demand_code.in_(codes), f.period.in_(period.months), f.fact != "accepted")
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
    ]
    cohandled = [
        CoHandled(row.unit_id, row.event_id, row.demand_code, row.item)
        for row in s.execute(
            select(t.unit_id, t.event_id, t.demand_code, t.item)
            .where(t.unit_id.in_(unit_ids), t.stage == CO_HANDLED, t.period.in_(period.months))
            .order_by(t.recorded_at, t.event_id)
        )
    ]
    return ScoringFacts(visits, owners, categories, demands, records, cohandled)


def collect(s: Session, period: Period, unit_ids: list[str]) -> dict[str, Collected]:
    """Each unit's counts, ratings and overrides in the period, with the records behind
    them."""
    if not unit_ids:
        return {}
    return attribute_all(unit_ids, len(period.months), gather(s, period, unit_ids))


def cards_for(
    s: Session, period: Period, unit_rows: Sequence[Row[Any]], *, records_of: str | None = None
) -> list[dict[str, Any]]:
    """The units' scorecards, each under the rule set in force at the period's start; the
    card of the unit ``records_of`` lists each item's first records (``PAGE``)."""
    tallied = tally(s, period, [u.id for u in unit_rows])
    rule_sets: dict[str, tuple[str, int, Mapping[str, Any]]] = {}
    cards = []
    for u in unit_rows:
        if u.jurisdiction not in rule_sets:  # peers share their jurisdiction's
            rule_sets[u.jurisdiction] = rule_set_for(s, u.jurisdiction, period.start)
        rule_set = rule_sets[u.jurisdiction]
        got = tallied.get(u.id) or Tallied(Inputs(months=len(period.months)))
        c = card(dict(u._mapping), period.label, rule_set, got.inputs, got.totals)
        if u.id == records_of:
            _first_records(s, period, u.id, rule_set[2], c, got.totals)
        cards.append(c)
    return cards


def _first_records(
    s: Session,
    period: Period,
    unit_id: str,
    body: Mapping[str, Any],
    c: dict[str, Any],
    totals: Mapping[str, int],
) -> None:
    """Each item's first records (its inputs' totals are known from the tally: a query per
    input with records, none for counting them)."""
    by_item = {i["item"]: i for p in body["parts"] for i in p["items"]}
    for part in c["parts"]:
        for item in part["items"]:
            names = item_inputs(by_item[item["item"]])
            item["records"], item["records_total"] = records(
                s, period, unit_id, names, 0, PAGE, totals
            )


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
