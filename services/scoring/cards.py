"""Scorecards, rankings, what-if evaluation, manual records, rule sets and KPIs."""

from __future__ import annotations

import calendar
import io
import json
import uuid
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any

from sqlalchemy import func, select, update

from services.scoring import rules as r
from services.scoring.models import (
    demand_facts,
    demand_owners,
    enterprises,
    manual_records,
    owner_history,
    rule_sets,
    tally_records,
    tier_history,
    units,
    visit_enterprises,
)
from shared import periods
from shared.auth import Principal
from shared.contracts import scoring as contract
from shared.errors import ApiError, invalid
from shared.events import JURISDICTION_RE, subtree_prefix
from shared.periods import Period
from shared.rulesets import version_in_force
from shared.runtime import Service
from shared.scoping import require_rules_readable, require_visible
from shared.sheets import row as sheet_row
from shared.timezone import china_today

# Manual record kinds: the ratings and override (ranges) and the counted outputs.
RATING_KINDS = {"integrity_rating": (0, 5), "attitude_rating": (0, 5)}
OVERRIDE_KINDS = {"efficiency_override": (0, 15)}
COUNT_KINDS = (
    "assisted_application",
    "successful_application",
    "paper",
    "project",
    "achievement",
    "invention_patent",
    "utility_patent",
    "standard",
)
RECORD_KINDS = (*RATING_KINDS, *OVERRIDE_KINDS, *COUNT_KINDS)
TECH_STAGES = ("collected", "analysed", "published", "matched", "solved")


SCORING_PERIODS = ("month", "quarter", "year")


def parse_period(text: str) -> Period:
    """``2026-11``, ``2026-Q4`` or ``2026``; ``ValueError`` otherwise."""
    return periods.parse_period(text, SCORING_PERIODS)


def period_arg(text: str) -> Period:
    return periods.period_arg(text, SCORING_PERIODS)


# --- rule sets -------------------------------------------------------------------------


def rule_set_for(s: Any, jurisdiction: str, on: date) -> tuple[str, int, dict[str, Any]]:
    """The rule set in force on a day: the nearest jurisdiction on the path with a
    version in effect, else table A.1 (version 0)."""
    row = version_in_force(s, rule_sets, jurisdiction, on)
    if row is None:
        return "default", 0, r.default_rule_set()
    return row.jurisdiction, row.version, json.loads(row.body)


def _code(jurisdiction: str) -> None:
    if not JURISDICTION_RE.fullmatch(jurisdiction):
        raise invalid("path", "jurisdiction", "not a GB/T 2260 division code")


def get_rule_set(svc: Service, principal: Principal, jurisdiction: str) -> dict[str, Any]:
    _code(jurisdiction)
    require_rules_readable(principal, jurisdiction)
    with svc.db.session() as s:
        source, version, body = rule_set_for(s, jurisdiction, china_today())
        history = (
            s.execute(
                select(
                    rule_sets.c.version,
                    rule_sets.c.effective_from,
                    rule_sets.c.published_by,
                    rule_sets.c.published_at,
                )
                .where(rule_sets.c.jurisdiction == jurisdiction)
                .order_by(rule_sets.c.version)
            )
            .mappings()
            .all()
        )
    return {
        "jurisdiction": jurisdiction,
        "source": source,
        "version": version,
        "rule_set": body,
        "notes": r.validate(body),
        "versions": [dict(h) for h in history],
    }


def publish_rule_set(
    svc: Service, principal: Principal, jurisdiction: str, data: dict[str, Any], cid: str
) -> dict[str, Any]:
    """A new version effective from a date; inconsistent caps or weights are refused."""
    _code(jurisdiction)
    require_visible(principal, jurisdiction)
    if data["effective_from"] < china_today():
        raise invalid("json", "effective_from", "a rule set takes effect today or later")
    body = data["rule_set"]
    try:
        r.validate(body)
    except r.RuleSetError as exc:
        raise ApiError(
            422, f"Inconsistent rule set: {exc}", fields={"json": {"rule_set": exc.problems}}
        ) from None
    now = datetime.now(UTC)
    with svc.uow() as uow:
        last = uow.session.execute(
            select(func.max(rule_sets.c.version)).where(rule_sets.c.jurisdiction == jurisdiction)
        ).scalar()
        version = (last or 0) + 1
        uow.session.execute(
            rule_sets.insert().values(
                jurisdiction=jurisdiction,
                version=version,
                effective_from=data["effective_from"],
                body=json.dumps(body, ensure_ascii=False),
                published_by=principal.key_id,
                published_at=now,
            )
        )
        uow.emit(
            contract.rule_set_published(
                jurisdiction=jurisdiction,
                correlation_id=cid,
                payload={
                    "jurisdiction": jurisdiction,
                    "version": version,
                    "effective_from": data["effective_from"].isoformat(),
                    "body": body,
                    "actor": principal.key_id,
                    "at": now.isoformat(),
                },
            )
        )
        uow.commit()
    return get_rule_set(svc, principal, jurisdiction)


# --- manual records ----------------------------------------------------------------------


def _unit(s: Any, principal: Principal, unit_id: str) -> Any:
    u = s.execute(select(units).where(units.c.id == unit_id)).first()
    if u is None or not principal.can_see(u.jurisdiction):
        raise ApiError(404, f"No staff member or department {unit_id} in your subtree.")
    return u


def enter_record(
    svc: Service, principal: Principal, data: dict[str, Any], cid: str
) -> dict[str, Any]:
    """A record no event carries, with its evidence; an audit trail, never edited."""
    kind, value = data["kind"], data["value"]
    bounds = RATING_KINDS.get(kind) or OVERRIDE_KINDS.get(kind)
    if bounds and not bounds[0] <= value <= bounds[1]:
        raise invalid("json", "value", f"{kind} is between {bounds[0]} and {bounds[1]}")
    if kind in COUNT_KINDS and (value < 1 or value != int(value)):
        raise invalid("json", "value", f"{kind} counts whole items, at least 1")
    month = data["period"]
    if month > china_today().strftime("%Y-%m"):
        raise invalid("json", "period", "records are for this month or earlier")
    now = datetime.now(UTC)
    with svc.uow() as uow:
        u = _unit(uow.session, principal, data["unit_id"])
        row = {
            "id": str(uuid.uuid4()),
            "unit_type": u.type,
            "unit_id": u.id,
            "jurisdiction": u.jurisdiction,
            "period": month,
            "kind": kind,
            "value": float(value),
            "evidence": data["evidence"],
            "note": data.get("note") or "",
            "actor": principal.key_id,
            "at": now,
        }
        uow.session.execute(manual_records.insert().values(**row))
        uow.emit(
            contract.record_entered(
                jurisdiction=u.jurisdiction,
                correlation_id=cid,
                payload={**row, "at": now.isoformat()},
            )
        )
        uow.commit()
    return {**row, "retracted_at": None, "retracted_by": None, "retract_reason": None}


def retract_record(
    svc: Service, principal: Principal, record_id: str, reason: str, cid: str
) -> dict[str, Any]:
    now = datetime.now(UTC)
    with svc.uow() as uow:
        row = (
            uow.session.execute(
                select(manual_records).where(manual_records.c.id == record_id).with_for_update()
            )
            .mappings()
            .first()
        )
        if row is None or not principal.can_see(row["jurisdiction"]):
            raise ApiError(404, f"No record {record_id}.")
        if row["retracted_at"] is not None:
            raise ApiError(409, "The record is already retracted.")
        uow.session.execute(
            update(manual_records)
            .where(manual_records.c.id == record_id)
            .values(retracted_at=now, retracted_by=principal.key_id, retract_reason=reason)
        )
        uow.emit(
            contract.record_retracted(
                jurisdiction=row["jurisdiction"],
                correlation_id=cid,
                payload={
                    "id": record_id,
                    "reason": reason,
                    "actor": principal.key_id,
                    "at": now.isoformat(),
                },
            )
        )
        uow.commit()
    return {
        **dict(row),
        "retracted_at": now,
        "retracted_by": principal.key_id,
        "retract_reason": reason,
    }


def list_records(
    svc: Service, principal: Principal, unit_id: str, period_text: str
) -> list[dict[str, Any]]:
    period = period_arg(period_text)
    with svc.db.session() as s:
        _unit(s, principal, unit_id)
        rows = s.execute(
            select(manual_records)
            .where(manual_records.c.unit_id == unit_id, manual_records.c.period.in_(period.months))
            .order_by(manual_records.c.at)
        ).mappings()
        return [dict(x) for x in rows]


# --- inputs of a scorecard ---------------------------------------------------------------


@dataclass
class Collected:
    inputs: r.Inputs
    records: dict[str, list[dict[str, Any]]]


def collect(s: Any, period: Period, unit_ids: list[str]) -> dict[str, Collected]:
    """Each unit's counts, ratings and overrides in the period, with the records behind
    them (batched: one query per source for all units)."""
    months = len(period.months)
    out = {u: Collected(r.Inputs(months=months), defaultdict(list)) for u in unit_ids}
    if not unit_ids:
        return out
    t = tally_records.c
    for row in s.execute(
        select(t.unit_id, t.event_id, t.period)
        .where(t.unit_id.in_(unit_ids), t.item == "visits", t.period.in_(period.months))
        .order_by(t.period, t.event_id)
    ):
        c = out[row.unit_id]
        c.inputs.counts["visits"] = c.inputs.count("visits") + 1
        c.records["visits"].append(
            {"source": "visit.logged", "event_id": row.event_id, "month": row.period}
        )
    f, o, h = demand_facts.c, demand_owners.c, owner_history.c
    codes = select(h.demand_code).where(h.unit_id.in_(unit_ids)).distinct().scalar_subquery()
    owners: dict[str, list[Any]] = defaultdict(list)
    for row in s.execute(
        select(h.demand_code, h.since, h.unit_id, h.event_id)
        .where(h.demand_code.in_(codes))
        .order_by(h.since, h.event_id)
    ):
        owners[row.demand_code].append(row)
    category = dict(
        s.execute(select(o.demand_code, o.category).where(o.demand_code.in_(codes))).all()
    )

    def owner_at(code: str, at: datetime) -> str | None:
        """Who owned the demand when the fact happened (its first owner for earlier facts)."""
        history = owners.get(code) or []
        found = history[0].unit_id if history else None
        for entry in history:
            if entry.since <= at:
                found = entry.unit_id
        return found

    raw = s.execute(
        select(f.demand_code, f.fact, f.value, f.at, f.event_id)
        .where(f.demand_code.in_(codes), f.period.in_(period.months), f.fact != "accepted")
        .order_by(f.at, f.event_id)
    ).all()
    facts = []
    for row in raw:
        unit = owner_at(row.demand_code, row.at)
        if unit in out:
            facts.append((row, unit, category.get(row.demand_code)))
    seen: dict[tuple[str, str], set[str]] = defaultdict(set)
    last_close: dict[tuple[str, str], Any] = {}
    for row, unit_id, row_category in facts:
        c = out[unit_id]
        key = (unit_id, row.fact)
        if row.fact == "rating":
            c.inputs.ratings.setdefault("satisfaction", []).append(float(row.value))
            c.records["satisfaction"].append(
                {"source": "demand.revisited", "demand_code": row.demand_code, "rating": row.value}
            )
            continue
        if row.fact == "closed":
            last_close[(unit_id, row.demand_code)] = row
            continue
        if row.demand_code in seen[key]:
            continue  # each demand counts once per stage (a reopened demand is not paid twice)
        seen[key].add(row.demand_code)
        if row_category == "technology":
            name = f"tech_{row.fact}"
        elif row.fact == "solved":
            name = "general_solved"
        else:
            continue
        c.inputs.counts[name] = c.inputs.count(name) + 1
        c.records[name].append(
            {"source": row.fact, "demand_code": row.demand_code, "event_id": row.event_id}
        )
    for (unit_id, code), row in sorted(last_close.items()):
        c = out[unit_id]
        if row.value is None:
            continue
        c.inputs.counts["closed"] = c.inputs.count("closed") + 1
        c.records["closed"].append(
            {"source": "closed", "demand_code": code, "on_time": bool(row.value)}
        )
        if row.value:
            c.inputs.counts["closed_on_time"] = c.inputs.count("closed_on_time") + 1
    m = manual_records.c
    for row in s.execute(
        select(manual_records)
        .where(m.unit_id.in_(unit_ids), m.period.in_(period.months), m.retracted_at.is_(None))
        .order_by(m.at, m.id)
    ):
        c = out[row.unit_id]
        rec = {
            "source": "record",
            "id": row.id,
            "value": row.value,
            "evidence": row.evidence,
            "period": row.period,
        }
        if row.kind in RATING_KINDS:
            c.inputs.ratings.setdefault(row.kind, []).append(row.value)
        elif row.kind in OVERRIDE_KINDS:
            c.inputs.overrides[row.kind] = row.value  # the latest override wins
        else:
            c.inputs.counts[row.kind] = c.inputs.count(row.kind) + int(row.value)
        c.records[row.kind].append(rec)
    return out


def _records_for(
    item: dict[str, Any], records: dict[str, list[dict[str, Any]]]
) -> list[dict[str, Any]]:
    names: list[str] = []
    kind = item["kind"]
    if kind in ("rating", "threshold", "average"):
        names = [item["input"]]
    elif kind == "share":
        names = [item["denominator"], item.get("override") or ""]
    else:
        names = list(item["weights"])
    return [rec | {"input": n} for n in names for rec in records.get(n, [])]


def _card(
    unit: Any, period: Period, body: dict[str, Any], source: str, version: int, c: Collected
) -> dict[str, Any]:
    result = r.evaluate(body, c.inputs)
    by_item = {i["item"]: i for p in body["parts"] for i in p["items"]}
    for part in result["parts"]:
        for item in part["items"]:
            item["records"] = _records_for(by_item[item["item"]], c.records)
    return {
        "unit": {
            "id": unit.id,
            "type": unit.type,
            "name": unit.name,
            "jurisdiction": unit.jurisdiction,
        },
        "period": period.label,
        "rule_set": {"jurisdiction": source, "version": version, "name": body.get("name")},
        **result,
    }


def cards_for(s: Any, period: Period, unit_rows: Sequence[Any]) -> list[dict[str, Any]]:
    collected = collect(s, period, [u.id for u in unit_rows])
    out = []
    for u in unit_rows:
        source, version, body = rule_set_for(s, u.jurisdiction, period.start)
        out.append(_card(u, period, body, source, version, collected[u.id]))
    return out


def _ranked(cards: list[dict[str, Any]]) -> list[dict[str, Any]]:
    ranks = r.competition_ranks([(c["unit"]["id"], c["total"]) for c in cards])
    for c in cards:
        c["rank"] = ranks[c["unit"]["id"]]
        c["ranked_among"] = len(cards)
    return sorted(cards, key=lambda c: (c["rank"], c["unit"]["id"]))


def scorecard(svc: Service, principal: Principal, unit_id: str, period_text: str) -> dict[str, Any]:
    """One unit's scorecard, ranked among the units of its type in its jurisdiction."""
    period = period_arg(period_text)
    with svc.db.session() as s:
        u = _unit(s, principal, unit_id)
        peers = s.execute(
            select(units).where(units.c.jurisdiction == u.jurisdiction, units.c.type == u.type)
        ).all()
        cards = _ranked(cards_for(s, period, peers))
    return next(c for c in cards if c["unit"]["id"] == unit_id)


def rankings(
    svc: Service, principal: Principal, jurisdiction: str, unit_type: str, period_text: str
) -> dict[str, Any]:
    """The ranking of one jurisdiction's departments or staff for a period."""
    require_visible(principal, jurisdiction)
    period = period_arg(period_text)
    with svc.db.session() as s:
        peers = s.execute(
            select(units).where(units.c.jurisdiction == jurisdiction, units.c.type == unit_type)
        ).all()
        cards = _ranked(cards_for(s, period, peers))
    return {
        "jurisdiction": jurisdiction,
        "unit_type": unit_type,
        "period": period.label,
        "items": cards,
    }


def what_if(svc: Service, principal: Principal, data: dict[str, Any]) -> dict[str, Any]:
    """Evaluate raw counts and ratings under a given version or the one in force."""
    jurisdiction = data.get("jurisdiction") or principal.jurisdiction
    require_visible(principal, jurisdiction)
    with svc.db.session() as s:
        if data.get("version") is not None:
            row = s.execute(
                select(rule_sets).where(
                    rule_sets.c.jurisdiction == jurisdiction, rule_sets.c.version == data["version"]
                )
            ).first()
            if row is None and data["version"] != 0:
                raise invalid(
                    "json", "version", f"{jurisdiction} has no rule set version {data['version']}"
                )
            source, version, body = (
                (jurisdiction, row.version, json.loads(row.body))
                if row
                else ("default", 0, r.default_rule_set())
            )
        else:
            source, version, body = rule_set_for(s, jurisdiction, china_today())
    inputs = r.Inputs(
        counts=dict(data.get("counts") or {}),
        ratings={
            k: [float(v)] if not isinstance(v, list) else [float(x) for x in v]
            for k, v in (data.get("ratings") or {}).items()
        },
        overrides=dict(data.get("overrides") or {}),
    )
    return {
        "rule_set": {"jurisdiction": source, "version": version, "name": body.get("name")},
        **r.evaluate(body, inputs),
    }


# --- KPIs -----------------------------------------------------------------------------------


def _share(n: int, d: int) -> float | None:
    return round(n / d, 4) if d else None


def tiers_on(s: Any, prefix: str, day: date) -> dict[str, str | None]:
    """Each enterprise's growth tier at the end of ``day`` (China time), from its dated
    history; enterprises not registered by then are absent."""
    out: dict[str, str | None] = {}
    for h in s.execute(
        select(tier_history.c.credit_code, tier_history.c.growth_tier)
        .join(enterprises, enterprises.c.credit_code == tier_history.c.credit_code)
        .where(enterprises.c.jurisdiction.startswith(prefix), tier_history.c.since <= day)
        .order_by(tier_history.c.since, tier_history.c.at, tier_history.c.event_id)
    ):
        out[h.credit_code] = h.growth_tier
    return out


def _months_before(since: date, month: str) -> int:
    """How many months ``month`` (YYYY-MM) lies before ``since``'s month (-1: after it)."""
    y, m = int(month[:4]), int(month[5:7])
    gap = (since.year - y) * 12 + since.month - m
    return gap if gap >= 0 else 10**6


def _same_day_a_year_before(day: date) -> date:
    last = calendar.monthrange(day.year - 1, day.month)[1]
    return date(day.year - 1, day.month, min(day.day, last))


def kpis(svc: Service, principal: Principal, jurisdiction: str, period_text: str) -> dict[str, Any]:
    """A jurisdiction's KPIs for a period: the loop's rates, station coverage (CX 第十二条)
    and the SX growth targets, each with its target."""
    require_visible(principal, jurisdiction)
    period = period_arg(period_text)
    prefix = subtree_prefix(jurisdiction)
    f = demand_facts.c
    with svc.db.session() as s:
        _, _, body = rule_set_for(s, jurisdiction, period.start)
        targets = {**r.DEFAULT_RULE_SET["targets"], **(body.get("targets") or {})}
        rows = s.execute(
            select(f.fact, f.demand_code, f.value, f.at)
            .where(f.jurisdiction.startswith(prefix), f.period.in_(period.months))
            .order_by(f.at)
        ).all()
        by: dict[str, set[str]] = defaultdict(set)
        on_time: dict[str, int | None] = {}
        ratings: list[int] = []
        for row in rows:
            if row.fact == "rating":
                ratings.append(int(row.value))
            else:
                by[row.fact].add(row.demand_code)
            if row.fact == "closed":
                on_time[row.demand_code] = row.value
        served = set(
            s.execute(
                select(f.credit_code).where(
                    f.fact == "accepted",
                    f.jurisdiction.startswith(prefix),
                    f.period.in_(period.months),
                )
            ).scalars()
        ) | set(
            s.execute(
                select(visit_enterprises.c.credit_code).where(
                    visit_enterprises.c.jurisdiction.startswith(prefix),
                    visit_enterprises.c.period.in_(period.months),
                )
            ).scalars()
        )
        ents = s.execute(
            select(enterprises).where(enterprises.c.jurisdiction.startswith(prefix))
        ).all()
        # the tiers as they stood at the period's end (a past period stays as it was):
        # only from the dated history, so an enterprise registered later is not counted
        tiers = tiers_on(s, prefix, period.end)
        # demands accepted in the period and closed by its end (a cohort: never above 1)
        cohort_closed = set(
            s.execute(
                select(f.demand_code).where(
                    f.fact == "closed",
                    f.demand_code.in_(list(by["accepted"])),
                    f.period <= period.months[-1],
                )
            ).scalars()
        )
        tech = [c for c, tier in tiers.items() if tier == "tech_sme"]
        candidates = [c for c, tier in tiers.items() if tier == "hitech_candidate"]
        cert_rows = s.execute(
            select(tier_history.c.credit_code, func.min(tier_history.c.since))
            .where(
                tier_history.c.growth_tier == "hitech_enterprise",
                tier_history.c.since >= period.start,
                tier_history.c.since <= period.end,
                tier_history.c.credit_code.in_(list(tiers)),
            )
            .group_by(tier_history.c.credit_code)
        ).all()
        certified = {code for code, _ in cert_rows}
        # incubated: served in the 24 months up to its certification (month granularity)
        served_months: dict[str, set[str]] = defaultdict(set)
        for code, month in s.execute(
            select(f.credit_code, f.period).where(
                f.fact == "accepted", f.credit_code.in_(list(certified))
            )
        ).all():
            served_months[code].add(month)
        for code, month in s.execute(
            select(visit_enterprises.c.credit_code, visit_enterprises.c.period).where(
                visit_enterprises.c.credit_code.in_(list(certified))
            )
        ).all():
            served_months[code].add(month)
        served_before = {
            code
            for code, since in cert_rows
            if any(_months_before(since, m) <= 24 for m in served_months[code])
        }
        year_ago = _same_day_a_year_before(period.end)
        tiers_then_map = tiers_on(s, prefix, year_ago)
    tiers_then = tiers_then_map
    accepted, closed, solved = len(by["accepted"]), len(by["closed"]), len(by["solved"])
    timed = [v for v in on_time.values() if v is not None]
    hitech_now = sum(1 for t in tiers.values() if t in ("hitech_enterprise", "little_giant"))
    hitech_then = sum(1 for t in tiers_then.values() if t in ("hitech_enterprise", "little_giant"))
    tech_now, tech_then = len(tech), sum(1 for t in tiers_then.values() if t == "tech_sme")

    def growth(now: int, then: int) -> float | None:
        return round((now - then) / then, 4) if then else None

    return {
        "jurisdiction": jurisdiction,
        "period": period.label,
        "demands": {
            "accepted": accepted,
            "closed": closed,
            "solved": solved,
            "closure_rate": _share(len(cohort_closed), accepted),
            "on_time_rate": _share(sum(timed), len(timed)),
            "problem_solving_rate": _share(solved, closed),
            "satisfaction": round(sum(ratings) / len(ratings), 2) if ratings else None,
            "ratings": len(ratings),
        },
        "station_coverage": {
            "tech_smes": len(tech),
            "tech_smes_served": len(served & set(tech)),
            "tech_sme_coverage": _share(len(served & set(tech)), len(tech)),
            "tech_sme_target": targets["tech_sme_coverage"],
            "hitech_candidates": len(candidates),
            "hitech_candidates_served": len(served & set(candidates)),
            "hitech_candidate_coverage": _share(len(served & set(candidates)), len(candidates)),
            "hitech_candidate_target": targets["hitech_candidate_coverage"],
            "newly_certified_hitech": len(certified),
            "incubated": len(certified & served_before),
            "incubated_share": _share(len(certified & served_before), len(certified)),
            "incubated_target": targets["station_incubated_share"],
        },
        "sx_targets": {
            "tech_smes": tech_now,
            "hitech_enterprises": hitech_now,
            "base_year": targets["base_year"],
            "base_tech_smes": targets["base_tech_smes"],
            "base_hitech_enterprises": targets["base_hitech_enterprises"],
            "tech_smes_vs_base": _share(tech_now, targets["base_tech_smes"] or 0),
            "hitech_vs_base": _share(hitech_now, targets["base_hitech_enterprises"] or 0),
            "doubling_target": 2.0,
            "tech_sme_growth": growth(tech_now, tech_then),
            "hitech_growth": growth(hitech_now, hitech_then),
            "growth_target": targets["annual_growth"],
            "needs_named_person": sum(1 for e in ents if e.needs_named_person),
            "needs_one_plan": sum(1 for e in ents if e.needs_one_plan),
        },
    }


# --- export -----------------------------------------------------------------------------------


def to_xlsx(ranking: dict[str, Any]) -> bytes:
    """Scorecards in the layout of table A.1 (one row per unit, one column per item)."""
    from openpyxl import Workbook

    wb = Workbook()
    ws = wb.active
    ws.title = "考核评价表"
    ws.append(["服务人员考核评价表（表A.1）", ranking["jurisdiction"], ranking["period"]])
    cards = ranking["items"]
    parts = cards[0]["parts"] if cards else []
    header1 = ["排名", "对象", "类型"]
    header2 = ["", "", ""]
    for p in parts:
        for i, item in enumerate(p["items"]):
            header1.append(f"{p['title']}（{p['points']}分）" if i == 0 else "")
            header2.append(f"{item['title']}（≤{item['cap']}）")
        header1.append("")
        header2.append("小计")
    header1 += ["总分", "规则版本"]
    header2 += ["", ""]
    ws.append(sheet_row(header1))
    ws.append(sheet_row(header2))
    for c in cards:
        row: list[Any] = [
            c["rank"],
            c["unit"]["name"],
            "部室" if c["unit"]["type"] == "department" else "人员",
        ]
        for p in c["parts"]:
            row += [i["points"] for i in p["items"]] + [p["subtotal"]]
        row += [c["total"], f"{c['rule_set']['jurisdiction']} v{c['rule_set']['version']}"]
        ws.append(sheet_row(row))
    buf = io.BytesIO()
    wb.save(buf)
    return buf.getvalue()
