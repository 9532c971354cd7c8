"""Dispatch HTTP API: assignments and the responsibility map."""

from __future__ import annotations

from typing import Any

from flask import Flask, g

from services.dispatch import build, handlers
from services.dispatch.schemas import (
    AssignmentArgs,
    AssignmentList,
    DepartmentList,
    ProgressIn,
    ProgressOut,
)
from shared.config import Settings
from shared.web import OnestopBlueprint, current_principal, make_app, require_role, service

blp = OnestopBlueprint("dispatch", __name__, url_prefix="/api/v1", description="Dispatch (派单)")


@blp.get("/assignments")
@blp.arguments(AssignmentArgs, location="query")
@blp.response(200, AssignmentList)
def assignments(args: dict[str, Any]) -> dict[str, Any]:
    """Assignments in your subtree (an agency key sees only its own)."""
    items = handlers.list_assignments(
        service(), current_principal(), args.get("demand_code"), args["limit"]
    )
    return {"items": items}


@blp.post("/assignments/<assignment_id>/progress")
@blp.arguments(ProgressIn)
@blp.response(202, ProgressOut)
def progress(data: dict[str, Any], assignment_id: str) -> dict[str, Any]:
    """The assignee (owner office or agency) reports progress: ``started`` or ``feedback``.
    Emits ``assignment.progress_reported``; intake moves the demand's loop."""
    return handlers.report_progress(
        service(), assignment_id, current_principal(), data["stage"], data["note"], g.correlation_id
    )


@blp.get("/departments")
@require_role("admin", "district", "staff")
@blp.response(200, DepartmentList)
def departments() -> dict[str, Any]:
    """Responsible departments (包保责任部室) in your subtree."""
    return {"items": handlers.list_departments(service(), current_principal())}


def create_app(settings: Settings | None = None) -> Flask:
    return make_app(build(settings), title="onestop dispatch", blueprints=[blp])
