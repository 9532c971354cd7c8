"""A unit's scorecard from its facts: the inputs tallied (each with the records behind it),
the rule set evaluated, and the card ranked among its peers.

Pure Python: no Flask, SQLAlchemy or kombu. The queries gather ``ScoringFacts`` for some
units over some months; ``collect`` attributes and counts them:

* a visit counts for each unit it was tallied to;
* a demand's fact counts for the unit that owned the demand when it happened (its first
  owner for earlier facts), once per demand and stage (a reopened demand is not paid
  twice); a revisit's rating goes into satisfaction;
* a demand's last close in the period decides whether it closed on time;
* manual records: ratings are averaged, the latest override wins, counts add up;
* a co-handling department's reported work counts as a demand it helped solve (the
  demand category's solving input, ``facts.co_handled_input``), listed after the unit's
  own demand records.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from services.scoring.domain.evaluation import Inputs, competition_ranks, evaluate
from services.scoring.domain.facts import co_handled_input, stage_input
from services.scoring.domain.records import OVERRIDE_KINDS, RATING_KINDS


@dataclass(frozen=True)
class VisitTally:
    """A visit counted for a unit (a staff member or a department) in a month."""

    unit_id: str
    event_id: str
    month: str


@dataclass(frozen=True)
class CoHandled:
    """A co-handling department's reported work on a demand (of A.1 item ``item``)."""

    unit_id: str
    event_id: str
    demand_code: str
    item: str


@dataclass(frozen=True)
class OwnerSpell:
    """A demand owned by a unit from ``since`` (until the next spell)."""

    demand_code: str
    since: datetime
    unit_id: str


@dataclass(frozen=True)
class DemandFact:
    """A stage a demand reached (collected … solved, closed, rating) and when."""

    demand_code: str
    fact: str
    value: int | None
    at: datetime
    event_id: str


@dataclass(frozen=True)
class ManualRecord:
    id: str
    unit_id: str
    kind: str
    value: float
    evidence: str
    period: str


@dataclass(frozen=True)
class ScoringFacts:
    """What the queries gathered, each sequence in the order it counts in."""

    visits: Sequence[VisitTally] = ()  # by month, event id
    owners: Sequence[OwnerSpell] = ()  # by since, event id
    categories: Mapping[str, str] = field(default_factory=dict)  # demand code → category
    demands: Sequence[DemandFact] = ()  # by at, event id; never "accepted"
    records: Sequence[ManualRecord] = ()  # not retracted; by at, id
    cohandled: Sequence[CoHandled] = ()  # by recorded_at, event id


@dataclass
class Collected:
    inputs: Inputs
    records: dict[str, list[dict[str, Any]]]

    @property
    def totals(self) -> dict[str, int]:
        """How many records stand behind each input."""
        return {name: len(recs) for name, recs in self.records.items()}


def collect(unit_ids: Collection[str], months: float, facts: ScoringFacts) -> dict[str, Collected]:
    """Each unit's counts, ratings and overrides over ``months`` months, with the records
    behind them."""
    out = {u: Collected(Inputs(months=months), defaultdict(list)) for u in unit_ids}
    _count_visits(out, facts.visits)
    _count_demands(out, facts)
    _count_cohandled(out, facts.cohandled)
    _count_records(out, facts.records)
    return out


def _add(c: Collected, name: str, n: int = 1) -> None:
    c.inputs.counts[name] = c.inputs.count(name) + n


def _count_visits(out: dict[str, Collected], visits: Sequence[VisitTally]) -> None:
    for v in visits:
        if (c := out.get(v.unit_id)) is None:
            continue
        _add(c, "visits")
        c.records["visits"].append(
            {"source": "visit.logged", "event_id": v.event_id, "month": v.month}
        )


def _count_cohandled(out: dict[str, Collected], cohandled: Sequence[CoHandled]) -> None:
    for co in cohandled:
        if (c := out.get(co.unit_id)) is None:
            continue
        name = co_handled_input(co.item)
        _add(c, name)
        c.records[name].append(
            {"source": "co_handled", "demand_code": co.demand_code, "event_id": co.event_id}
        )


def owner_at(spells: Sequence[OwnerSpell], at: datetime) -> str | None:
    """Who owned the demand when the fact happened (its first owner for earlier facts)."""
    found = spells[0].unit_id if spells else None
    for spell in spells:
        if spell.since <= at:
            found = spell.unit_id
    return found


def attributed(
    facts: ScoringFacts, unit_ids: Collection[str]
) -> list[tuple[DemandFact, str, str | None]]:
    """The demand facts of ``unit_ids``' demands: (fact, owner then, category), in order."""
    spells: dict[str, list[OwnerSpell]] = defaultdict(list)
    for spell in facts.owners:
        spells[spell.demand_code].append(spell)
    out = []
    for fact in facts.demands:
        unit = owner_at(spells.get(fact.demand_code) or [], fact.at)
        if unit is not None and unit in unit_ids:
            out.append((fact, unit, facts.categories.get(fact.demand_code)))
    return out


def _count_demands(out: dict[str, Collected], facts: ScoringFacts) -> None:
    seen: dict[tuple[str, str], set[str]] = defaultdict(set)
    last_close: dict[tuple[str, str], DemandFact] = {}
    for fact, unit_id, category in attributed(facts, out):
        c = out[unit_id]
        if fact.fact == "rating":
            assert fact.value is not None  # a revisit always carries its rating
            c.inputs.ratings.setdefault("satisfaction", []).append(float(fact.value))
            c.records["satisfaction"].append(
                {
                    "source": "demand.revisited",
                    "demand_code": fact.demand_code,
                    "rating": fact.value,
                }
            )
            continue
        if fact.fact == "closed":
            last_close[(unit_id, fact.demand_code)] = fact
            continue
        key = (unit_id, fact.fact)
        if fact.demand_code in seen[key]:
            continue  # each demand counts once per stage (a reopened demand is not paid twice)
        seen[key].add(fact.demand_code)
        name = stage_input(fact.fact, category)
        if name is None:
            continue
        _add(c, name)
        c.records[name].append(
            {"source": fact.fact, "demand_code": fact.demand_code, "event_id": fact.event_id}
        )
    _count_closes(out, last_close)


def _count_closes(out: dict[str, Collected], last_close: dict[tuple[str, str], DemandFact]) -> None:
    """Each demand's last close in the period: closed, and on time or not (a close
    whose timeliness is unknown does not count)."""
    for (unit_id, code), fact in sorted(last_close.items(), key=lambda kv: kv[0]):
        if fact.value is None:
            continue
        c = out[unit_id]
        _add(c, "closed")
        c.records["closed"].append(
            {"source": "closed", "demand_code": code, "on_time": bool(fact.value)}
        )
        if fact.value:
            _add(c, "closed_on_time")


def count_record(inputs: Inputs, kind: str, value: float) -> None:
    """A manual record into a unit's inputs (in the order entered): a rating is listed, the
    latest override wins, a count adds up."""
    if kind in RATING_KINDS:
        inputs.ratings.setdefault(kind, []).append(value)
    elif kind in OVERRIDE_KINDS:
        inputs.overrides[kind] = value
    else:
        inputs.counts[kind] = inputs.count(kind) + int(value)


def _count_records(out: dict[str, Collected], records: Sequence[ManualRecord]) -> None:
    for rec in records:
        if (c := out.get(rec.unit_id)) is None:
            continue
        count_record(c.inputs, rec.kind, rec.value)
        c.records[rec.kind].append(
            {
                "source": "record",
                "id": rec.id,
                "value": rec.value,
                "evidence": rec.evidence,
                "period": rec.period,
            }
        )


# --- the card -------------------------------------------------------------------------------


def item_inputs(item: Mapping[str, Any]) -> list[str]:
    """The inputs an item's points come from, in the order its records are listed."""
    kind = item["kind"]
    if kind in ("rating", "threshold", "average"):
        return [item["input"]]
    if kind == "share":
        return [item["denominator"], item.get("override") or ""]
    return list(item["weights"])


def records_for(
    item: Mapping[str, Any], records: Mapping[str, list[dict[str, Any]]]
) -> list[dict[str, Any]]:
    """The records behind an item's points, each naming the input it fed."""
    return [rec | {"input": n} for n in item_inputs(item) for rec in records.get(n, [])]


def card(
    unit: Mapping[str, Any],
    period: str,
    rule_set: tuple[str, int, Mapping[str, Any]],
    inputs: Inputs,
    totals: Mapping[str, int],
) -> dict[str, Any]:
    """A unit's scorecard for a period under a rule set ``(source, version, body)``: each
    item with how many records stand behind it (``totals``: per input)."""
    source, version, body = rule_set
    result = evaluate(body, inputs)
    by_item = {i["item"]: i for p in body["parts"] for i in p["items"]}
    for part in result["parts"]:
        for item in part["items"]:
            names = item_inputs(by_item[item["item"]])
            item["records_total"] = sum(totals.get(n, 0) for n in names)
    return {
        "unit": {
            "id": unit["id"],
            "type": unit["type"],
            "name": unit["name"],
            "jurisdiction": unit["jurisdiction"],
        },
        "period": period,
        "rule_set": {"jurisdiction": source, "version": version, "name": body.get("name")},
        **result,
    }


def ranked(cards: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The cards ranked by total (ties share a rank), best first."""
    ranks = competition_ranks([(c["unit"]["id"], c["total"]) for c in cards])
    for c in cards:
        c["rank"] = ranks[c["unit"]["id"]]
        c["ranked_among"] = len(cards)
    return sorted(cards, key=lambda c: (c["rank"], c["unit"]["id"]))
