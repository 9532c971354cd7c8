"""Scoring HTTP API."""

from __future__ import annotations

from typing import Any

from flask import Flask

from services.scoring import build, handlers
from services.scoring.schemas import TallyArgs, TallyList
from shared.config import Settings
from shared.web import OnestopBlueprint, current_principal, make_app, require_role, service

blp = OnestopBlueprint("scoring", __name__, url_prefix="/api/v1", description="Scoring (考核评价)")


@blp.get("/tallies")
@require_role("admin", "district", "staff")
@blp.arguments(TallyArgs, location="query")
@blp.response(200, TallyList)
def tallies(args: dict[str, Any]) -> dict[str, Any]:
    """The facts behind the A.1 items for one month, per unit, with their records."""
    return {
        "items": handlers.tallies(
            service(), current_principal(), args["period"], args.get("unit_id")
        )
    }


def create_app(settings: Settings | None = None) -> Flask:
    return make_app(build(settings), title="onestop scoring", blueprints=[blp])
