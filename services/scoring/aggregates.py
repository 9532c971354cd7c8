"""Scorecards at scale: each unit's inputs counted in the database, and the records behind
an item read a page at a time.

The rules are those of ``domain.scorecard.collect`` (a visit counts for each unit it was
tallied to; a demand's stage once per demand for the owner of its day; a demand's last close
in the period decides whether it closed on time; ratings are averaged; manual records as
entered), added up from the units' monthly tallies the consumers keep as facts arrive
(``attribution``): a ranking reads a few rows per unit and month, whatever the number of
demands, and never binds a list of demands. The records behind an input are read from the
attributed facts themselves, a page at a time. ``tests/unit/scoring/test_aggregates.py``
checks both give the same inputs on the same facts.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import ColumnElement, and_, func, literal, or_, select, union_all
from sqlalchemy.orm import Session
from sqlalchemy.sql import Select

from services.scoring.attribution import UNCOUNTED
from services.scoring.domain.evaluation import Inputs
from services.scoring.domain.facts import (
    CO_HANDLED,
    CO_HANDLED_INPUTS,
    GENERAL_ITEM,
    TECHNOLOGY_ITEM,
    co_handled_input,
)
from services.scoring.domain.records import RECORD_KINDS
from services.scoring.domain.scorecard import count_record
from services.scoring.models import demand_facts, manual_records, tally_records, unit_tallies
from shared.periods import Period

f, t, m, u = demand_facts.c, tally_records.c, manual_records.c, unit_tallies.c
PAGE = 50  # the records shown with a unit's scorecard, per item; the rest on demand


@dataclass
class Tallied:
    """A unit's inputs for a period, and how many records stand behind each input."""

    inputs: Inputs
    totals: dict[str, int] = field(default_factory=dict)


def tally(s: Session, period: Period, unit_ids: Sequence[str] | Select[Any]) -> dict[str, Tallied]:
    """Each unit's counts, ratings and overrides in the period, and its records' totals.
    ``unit_ids``: the units (a short list, or a query selecting them)."""
    ids = list(unit_ids) if not isinstance(unit_ids, Select) else None
    if ids == []:
        return {}
    mine = t.unit_id.in_(ids if ids is not None else unit_ids)
    tallied = u.unit_id.in_(ids if ids is not None else unit_ids)
    months = period.months
    out: dict[str, Tallied] = {}

    def of(unit: str) -> Tallied:
        if unit not in out:
            out[unit] = Tallied(Inputs(months=len(months)))
        return out[unit]

    for uid in ids or ():
        of(uid)
    for unit, n in s.execute(
        select(t.unit_id, func.count())
        .where(mine, t.item == "visits", t.period.in_(months))
        .group_by(t.unit_id)
    ):
        _count(of(unit), "visits", n)
    # a co-handling department's reported work: a demand it helped solve (facts.CO_HANDLED)
    for unit, item, n in s.execute(
        select(t.unit_id, t.item, func.count())
        .where(mine, t.stage == CO_HANDLED, t.period.in_(months))
        .group_by(t.unit_id, t.item)
    ):
        _count(of(unit), co_handled_input(item), n)
    # the demands' inputs from the units' tallies (attribution): each demand once per stage
    # in its first month of the period, a closed demand by its last close in the period
    for unit, name, n, total in s.execute(
        select(u.unit_id, u.input, func.sum(u.n), func.sum(u.total))
        .where(
            tallied,
            u.month.in_(months),
            u.prev < months[0],  # '' (none) sorts first
            or_(u.next == "", u.next > months[-1]),
        )
        .group_by(u.unit_id, u.input)
    ):
        if not n:
            continue
        if name == "satisfaction":
            of(unit).inputs.rating_sums["satisfaction"] = (float(total), int(n))
            of(unit).totals["satisfaction"] = int(n)
            continue
        _count(of(unit), name, n)
        if name == "closed" and total:
            of(unit).inputs.counts["closed_on_time"] = int(total)
    _records(s, months, ids if ids is not None else unit_ids, of)
    return out


def _count(c: Tallied, name: str, n: int) -> None:
    c.inputs.counts[name] = c.inputs.count(name) + int(n)
    c.totals[name] = c.totals.get(name, 0) + int(n)


def _last_closes(owned: ColumnElement[bool], months: Sequence[str]) -> Select[Any]:
    """Each (owner, demand)'s last close in the months (by instant, then event id): one
    sorted pass (a window), not a lookup per close."""
    ranked = (
        select(
            f.owner_id,
            f.demand_code,
            f.value,
            func.row_number()
            .over(
                partition_by=(f.owner_id, f.demand_code),
                order_by=(f.at.desc(), f.event_id.desc()),
            )
            .label("nth"),
        )
        .where(owned, f.fact == "closed", f.period.in_(months))
        .subquery()
    )
    return select(ranked.c.owner_id, ranked.c.demand_code, ranked.c.value).where(ranked.c.nth == 1)


def _records(s: Session, months: Sequence[str], ids: Any, of: Any) -> None:
    """The manual records (few): ratings listed, the latest override, counts added."""
    for r in s.execute(
        select(m.unit_id, m.kind, m.value)
        .where(m.unit_id.in_(ids), m.period.in_(months), m.retracted_at.is_(None))
        .order_by(m.at, m.id)
    ):
        c = of(r.unit_id)
        count_record(c.inputs, r.kind, r.value)
        c.totals[r.kind] = c.totals.get(r.kind, 0) + 1


# --- the records behind an input, a page at a time ------------------------------------------


def records(
    s: Session,
    period: Period,
    unit_id: str,
    names: Iterable[str],
    offset: int,
    limit: int,
    totals: Mapping[str, int] | None = None,
) -> tuple[list[dict[str, Any]], int]:
    """The records behind ``names`` (an item's inputs, in order) for one unit: the page
    ``[offset, offset + limit)`` of their concatenation, each naming its input, and the
    total. ``totals``: how many records stand behind each input, when the caller knows
    (``Tallied.totals``: nothing counted twice)."""
    page: list[dict[str, Any]] = []
    total = 0
    for name in names:
        query = _source(name, unit_id, period.months)
        if query is None:
            continue
        q, shape = query
        if totals is not None:
            n = totals.get(name, 0)
        else:
            n = s.execute(select(func.count()).select_from(q.subquery())).scalar_one()
        start = max(offset - total, 0)
        room = limit - len(page)
        if room > 0 and start < n:
            rows = s.execute(q.offset(start).limit(room)).all()
            page += [shape(r) | {"input": name} for r in rows]
        total += n
    return page, total


def _source(name: str, unit_id: str, months: Sequence[str]) -> tuple[Select[Any], Any] | None:
    """The query listing ``name``'s records for a unit, in the order they count, and how a
    row reads; None for an input no record stands behind (``closed_on_time``)."""
    owned = f.owner_id == unit_id
    q: Any
    if name == "visits":
        q = (
            select(t.event_id, t.period)
            .where(t.unit_id == unit_id, t.item == "visits", t.period.in_(months))
            .order_by(t.period, t.event_id)
        )
        return q, lambda r: {"source": "visit.logged", "event_id": r.event_id, "month": r.period}
    if name == "satisfaction":
        q = (
            select(f.demand_code, f.value)
            .where(owned, f.fact == "rating", f.period.in_(months))
            .order_by(f.at, f.event_id)
        )
        return q, lambda r: {
            "source": "demand.revisited",
            "demand_code": r.demand_code,
            "rating": r.value,
        }
    if name == "closed":
        last = _last_closes(owned, months).subquery()
        q = (
            select(last.c.demand_code, last.c.value)
            .where(last.c.value.is_not(None))
            .order_by(last.c.demand_code)
        )
        return q, lambda r: {
            "source": "closed",
            "demand_code": r.demand_code,
            "on_time": bool(r.value),
        }
    if name in RECORD_KINDS:
        q = (
            select(m.id, m.value, m.evidence, m.period)
            .where(
                m.unit_id == unit_id,
                m.kind == name,
                m.period.in_(months),
                m.retracted_at.is_(None),
            )
            .order_by(m.at, m.id)
        )
        return q, lambda r: {
            "source": "record",
            "id": r.id,
            "value": r.value,
            "evidence": r.evidence,
            "period": r.period,
        }
    if name == "closed_on_time":
        return None
    # a stage input: the first fact of each demand that reached it (then, for a solving
    # input, the demands the unit helped solve as a co-handler)
    earlier = demand_facts.alias("earlier")
    ec = earlier.c
    q = select(literal(0).label("src"), f.fact, f.demand_code, f.event_id, f.at).where(
        owned,
        f.input == name,
        f.period.in_(months),
        f.fact.not_in(UNCOUNTED),
        ~select(literal(1))
        .where(
            ec.demand_code == f.demand_code,
            ec.owner_id == f.owner_id,
            ec.fact == f.fact,
            ec.period.in_(months),
            or_(ec.at < f.at, and_(ec.at == f.at, ec.event_id < f.event_id)),
        )
        .exists(),
    )
    if name in CO_HANDLED_INPUTS:
        co = select(
            literal(1).label("src"),
            literal(CO_HANDLED).label("fact"),
            t.demand_code,
            t.event_id,
            t.recorded_at.label("at"),
        ).where(
            t.unit_id == unit_id,
            t.stage == CO_HANDLED,
            t.item == (TECHNOLOGY_ITEM if name == "tech_solved" else GENERAL_ITEM),
            t.period.in_(months),
        )
        both = union_all(q, co).subquery()
        b = both.c
        q = select(b.fact, b.demand_code, b.event_id).order_by(b.src, b.at, b.event_id)
    else:
        q = q.order_by(f.at, f.event_id)
    return q, lambda r: {"source": r.fact, "demand_code": r.demand_code, "event_id": r.event_id}
