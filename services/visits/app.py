"""Visits HTTP API: the visit log (服务进企), plans, frequency rules and compliance,
the service ledger and the team's visit report."""

from __future__ import annotations

from typing import Any

from flask import Flask, g

from services.visits import build, compliance, plans, reports, rules, teams, visitlog
from services.visits import schemas as sc
from services.visits.links import list_links
from shared.config import Settings
from shared.db import UnitOfWork
from shared.views import (
    OnestopBlueprint,
    current_principal,
    download,
    idempotency_key,
    permit,
    service,
)
from shared.web import make_app

blp = OnestopBlueprint("visits", __name__, url_prefix="/api/v1", description="Visits (服务进企)")


def _uow() -> UnitOfWork:
    return service().uow()


@blp.post("/visits")
@permit("visits.log_visit")
@blp.arguments(sc.VisitIn)
@blp.response(201, sc.VisitOut)
def log_visit(data: dict[str, Any]) -> Any:
    """Log a visit (服务进企). Demands raised on it are created in intake through events
    (source ``field_visit``) and linked back; ``follow_up_of`` links existing demands.
    ``Idempotency-Key`` makes a retried submission return the first visit."""
    actor = current_principal()
    visit, replayed = visitlog.log_visit(
        _uow(), actor, data, idempotency_key=idempotency_key(), correlation_id=g.correlation_id
    )
    if replayed:
        return visit, 201, {"Idempotent-Replayed": "true"}
    return visit


@blp.get("/visits")
@permit("visits.list_visits")
@blp.arguments(sc.VisitArgs, location="query")
@blp.response(200, sc.VisitPage)
def list_visits(args: dict[str, Any]) -> dict[str, Any]:
    """Visits in your subtree, newest first: filters staff, department, team, enterprise,
    jurisdiction, kind, period or from/to; keyset cursor."""
    if "from_" in args:
        args["from"] = args.pop("from_")
    return visitlog.list_visits(_uow(), current_principal(), args)


@blp.get("/visits/<visit_id>")
@permit("visits.get_visit")
@blp.response(200, sc.VisitOut)
def get_visit(visit_id: str) -> dict[str, Any]:
    return visitlog.get_visit(_uow(), current_principal(), visit_id)


@blp.put("/visits/<visit_id>")
@permit("visits.revise_visit")
@blp.arguments(sc.RevisionIn)
@blp.response(200, sc.VisitOut)
def revise_visit(data: dict[str, Any], visit_id: str) -> dict[str, Any]:
    """An edit is a new version (with its reason); earlier versions stay readable."""
    return visitlog.revise_visit(
        _uow(), current_principal(), visit_id, data, correlation_id=g.correlation_id
    )


@blp.get("/visits/<visit_id>/versions")
@permit("visits.visit_versions")
@blp.response(200, sc.VersionList)
def visit_versions(visit_id: str) -> dict[str, Any]:
    return {"items": visitlog.versions(_uow(), current_principal(), visit_id)}


def _maybe_xlsx(report: dict[str, Any], fmt: str, title: str, filename: str) -> Any:
    if fmt == "xlsx":
        return download(reports.to_xlsx(title, report), f"{filename}.xlsx")
    return report


@blp.get("/ledger")
@permit("visits.service_ledger")
@blp.arguments(sc.LedgerArgs, location="query")
@blp.response(200, sc.ReportOut)
def service_ledger(args: dict[str, Any]) -> Any:
    """服务台账 of a staff member or department for a period (``format=xlsx`` for a workbook)."""
    report = reports.ledger(_uow(), current_principal(), args)
    return _maybe_xlsx(
        report, args["format"], "服务台账", f"ledger-{args['unit']}-{args['period']}"
    )


@blp.get("/reports/visits")
@permit("visits.team_report")
@blp.arguments(sc.TeamReportArgs, location="query")
@blp.response(200, sc.ReportOut)
def team_report(args: dict[str, Any]) -> Any:
    """走访报告 of a service team for a period: visits, key-enterprise coverage, demands."""
    report = reports.team_report(_uow(), current_principal(), args)
    return _maybe_xlsx(
        report, args["format"], "走访报告", f"visits-{args['team']}-{args['period']}"
    )


@blp.get("/compliance")
@permit("visits.compliance_view")
@blp.arguments(sc.ComplianceArgs, location="query")
@blp.response(200, sc.ComplianceOut)
def compliance_view(args: dict[str, Any]) -> dict[str, Any]:
    """Frequency compliance for the rules of the period's granularity (a week: departments'
    weekly visits and station duty days; a month: teams' city visits; a quarter: teams' key
    enterprises and leaders' visits), per subject: required, done, shortfall, status."""
    return compliance.compliance(_uow(), current_principal(), args)


@blp.get("/frequency-rules/<jurisdiction>")
@permit("visits.get_rules")
@blp.response(200, sc.RulesOut)
def get_rules(jurisdiction: str) -> dict[str, Any]:
    """The frequency rules in force (nearest jurisdiction on the path; version 0 = the
    seeds' defaults) and this jurisdiction's published versions."""
    return rules.get_rules(_uow(), current_principal(), jurisdiction)


@blp.put("/frequency-rules/<jurisdiction>")
@permit("visits.publish_rules")
@blp.arguments(sc.RulesIn)
@blp.response(200, sc.RulesOut)
def publish_rules(data: dict[str, Any], jurisdiction: str) -> dict[str, Any]:
    return rules.publish_rules(_uow(), current_principal(), jurisdiction, data)


@blp.get("/teams")
@permit("visits.list_teams")
@blp.response(200, sc.TeamList)
def list_teams() -> dict[str, Any]:
    return {"items": teams.list_teams(_uow(), current_principal())}


@blp.put("/teams/<team_id>")
@permit("visits.put_team")
@blp.arguments(sc.TeamIn)
@blp.response(200, sc.TeamOut)
def put_team(data: dict[str, Any], team_id: str) -> dict[str, Any]:
    """A provincial service team (SX 服务专班): linked city and key enterprises (>= 10)."""
    return teams.put_team(_uow(), current_principal(), team_id, data)


@blp.put("/stations/<station_id>")
@permit("visits.put_station")
@blp.arguments(sc.StationIn)
@blp.response(200, sc.StationOut)
def put_station(data: dict[str, Any], station_id: str) -> dict[str, Any]:
    """A service station (CX 服务站) and its staff on the duty roster."""
    return teams.put_station(_uow(), current_principal(), station_id, data)


@blp.post("/stations/<station_id>/duty")
@permit("visits.record_duty")
@blp.arguments(sc.DutyIn)
@blp.response(200, sc.DutyOut)
def record_duty(data: dict[str, Any], station_id: str) -> dict[str, Any]:
    """Days a station's staff member was on duty (idempotent)."""
    return teams.record_duty(_uow(), current_principal(), station_id, data)


@blp.post("/plans")
@permit("visits.create_plan")
@blp.arguments(sc.PlanIn)
@blp.response(201, sc.PlanOut)
def create_plan(data: dict[str, Any]) -> dict[str, Any]:
    """A planned visit (the weekly and quarterly plans of SX and XM)."""
    return plans.create_plan(_uow(), current_principal(), data, correlation_id=g.correlation_id)


@blp.get("/plans")
@permit("visits.list_plans")
@blp.arguments(sc.PlanArgs, location="query")
@blp.response(200, sc.PlanList)
def list_plans(args: dict[str, Any]) -> dict[str, Any]:
    return {"items": plans.list_plans(_uow(), current_principal(), args)}


@blp.post("/plans/<plan_id>/done")
@permit("visits.plan_done")
@blp.arguments(sc.PlanDoneIn)
@blp.response(200, sc.PlanOut)
def plan_done(data: dict[str, Any], plan_id: str) -> dict[str, Any]:
    return plans.move_plan(
        _uow(), current_principal(), plan_id, "done", data, correlation_id=g.correlation_id
    )


@blp.post("/plans/<plan_id>/missed")
@permit("visits.plan_missed")
@blp.arguments(sc.PlanReasonIn)
@blp.response(200, sc.PlanOut)
def plan_missed(data: dict[str, Any], plan_id: str) -> dict[str, Any]:
    return plans.move_plan(
        _uow(), current_principal(), plan_id, "missed", data, correlation_id=g.correlation_id
    )


@blp.post("/plans/<plan_id>/cancel")
@permit("visits.plan_cancel")
@blp.arguments(sc.PlanReasonIn)
@blp.response(200, sc.PlanOut)
def plan_cancel(data: dict[str, Any], plan_id: str) -> dict[str, Any]:
    return plans.move_plan(
        _uow(), current_principal(), plan_id, "cancel", data, correlation_id=g.correlation_id
    )


@blp.get("/links")
@permit("visits.links")
@blp.arguments(sc.LinkArgs, location="query")
@blp.response(200, sc.LinkList)
def links(args: dict[str, Any]) -> dict[str, Any]:
    """Which unit is responsible for visiting which enterprise, in your subtree."""
    return {"items": list_links(_uow(), current_principal(), args)}


def create_app(settings: Settings | None = None) -> Flask:
    return make_app(build(settings), title="onestop visits", blueprints=[blp])
