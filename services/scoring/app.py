"""Scoring HTTP API: scorecards (table A.1), rankings, what-if evaluation, records,
rule sets, KPIs."""

from __future__ import annotations

from typing import Any

from flask import Flask, g

from services.scoring import build, records, rulesets, scorecards
from services.scoring import schemas as sc
from services.scoring.export import to_xlsx
from services.scoring.kpis import kpis as jurisdiction_kpis
from services.scoring.tallies import tallies as month_tallies
from shared.config import Settings
from shared.views import OnestopBlueprint, current_principal, download, permit, service
from shared.web import make_app

blp = OnestopBlueprint("scoring", __name__, url_prefix="/api/v1", description="Scoring (考核评价)")


@blp.get("/tallies")
@permit("scoring.tallies")
@blp.arguments(sc.TallyArgs, location="query")
@blp.response(200, sc.TallyList)
def tallies(args: dict[str, Any]) -> dict[str, Any]:
    """The facts behind the A.1 items for one month, per unit, with their records."""
    return {"items": month_tallies(service().uow(), current_principal(), args)}


@blp.get("/scorecards")
@permit("scoring.scorecard")
@blp.arguments(sc.ScorecardArgs, location="query")
@blp.response(200, sc.ScorecardOut)
def scorecard(args: dict[str, Any]) -> dict[str, Any]:
    """A unit's scorecard for a month, quarter or year: each item's points, cap, rule, how
    many records stand behind them and the first of those; part subtotals; total; rank in
    its jurisdiction; the rule set version that produced it."""
    return scorecards.scorecard(service().uow(), current_principal(), args)


@blp.get("/scorecards/records")
@permit("scoring.item_records")
@blp.arguments(sc.ItemRecordsArgs, location="query")
@blp.response(200, sc.ItemRecordsOut)
def item_records(args: dict[str, Any]) -> dict[str, Any]:
    """The records behind one item of a unit's scorecard, a page at a time (``offset``,
    ``limit`` up to 500), each naming the input it fed."""
    return scorecards.item_records(service().uow(), current_principal(), args)


@blp.get("/rankings")
@permit("scoring.rankings")
@blp.arguments(sc.RankingArgs, location="query")
@blp.response(200, sc.RankingOut)
def rankings(args: dict[str, Any]) -> Any:
    """A jurisdiction's departments or staff ranked for a period (``format=xlsx``: the
    table A.1 layout with Chinese headings)."""
    ranking = scorecards.rankings(service().uow(), current_principal(), args)
    if args["format"] == "xlsx":
        name = f"scorecards-{args['jurisdiction']}-{args['unit_type']}-{args['period']}.xlsx"
        return download(to_xlsx(ranking), name)
    return ranking


@blp.post("/evaluate")
@permit("scoring.evaluate")
@blp.arguments(sc.EvaluateIn)
@blp.response(200, sc.EvaluateOut)
def evaluate(data: dict[str, Any]) -> dict[str, Any]:
    """What-if: raw counts and ratings for one unit → each item's points and the total,
    under a given rule set version or the one in force (nothing is stored)."""
    return scorecards.what_if(service().uow(), current_principal(), data)


@blp.post("/records")
@permit("scoring.enter_record")
@blp.arguments(sc.RecordIn)
@blp.response(201, sc.RecordOut)
def enter_record(data: dict[str, Any]) -> dict[str, Any]:
    """A record no event carries — a supervisor's integrity or attitude rating (0–5), an
    efficiency override (0–15), an assisted or successful application, a research output —
    with its evidence (required). Records are never edited; retract and re-enter."""
    return records.enter_record(
        service().uow(), current_principal(), data, correlation_id=g.correlation_id
    )


@blp.get("/records")
@permit("scoring.list_records")
@blp.arguments(sc.RecordArgs, location="query")
@blp.response(200, sc.RecordList)
def list_records(args: dict[str, Any]) -> dict[str, Any]:
    return {"items": records.list_records(service().uow(), current_principal(), args)}


@blp.post("/records/<record_id>/retract")
@permit("scoring.retract")
@blp.arguments(sc.RetractIn)
@blp.response(200, sc.RecordOut)
def retract(data: dict[str, Any], record_id: str) -> dict[str, Any]:
    return records.retract_record(
        service().uow(), current_principal(), record_id, data, correlation_id=g.correlation_id
    )


@blp.get("/rule-sets/<jurisdiction>")
@permit("scoring.get_rule_set")
@blp.response(200, sc.RuleSetOut)
def get_rule_set(jurisdiction: str) -> dict[str, Any]:
    """The rule set in force (nearest jurisdiction; version 0 = table A.1 literally)."""
    return rulesets.get_rule_set(service().uow(), current_principal(), jurisdiction)


@blp.put("/rule-sets/<jurisdiction>")
@permit("scoring.publish_rule_set")
@blp.arguments(sc.RuleSetIn)
@blp.response(200, sc.RuleSetOut)
def publish_rule_set(data: dict[str, Any], jurisdiction: str) -> dict[str, Any]:
    """Publish a new version effective from a date; inconsistent caps or weights are a 422
    with the reason for each."""
    return rulesets.publish_rule_set(
        service().uow(), current_principal(), jurisdiction, data, correlation_id=g.correlation_id
    )


@blp.get("/kpis")
@permit("scoring.kpis")
@blp.arguments(sc.KpiArgs, location="query")
@blp.response(200, sc.KpiOut)
def kpis(args: dict[str, Any]) -> dict[str, Any]:
    """Closure, on-time, problem-solving rates and satisfaction; station coverage (CX
    第十二条); the SX targets — each with its target."""
    return jurisdiction_kpis(service().uow(), current_principal(), args)


def create_app(settings: Settings | None = None) -> Flask:
    return make_app(build(settings), title="onestop scoring", blueprints=[blp])
