"""Visits HTTP API."""

from __future__ import annotations

from typing import Any

from flask import Flask

from services.visits import build, handlers
from services.visits.schemas import LinkArgs, LinkList
from shared.config import Settings
from shared.web import OnestopBlueprint, current_principal, make_app, require_role, service

blp = OnestopBlueprint("visits", __name__, url_prefix="/api/v1", description="Visits (服务进企)")


@blp.get("/links")
@require_role("admin", "district", "staff")
@blp.arguments(LinkArgs, location="query")
@blp.response(200, LinkList)
def links(args: dict[str, Any]) -> dict[str, Any]:
    """Which unit is responsible for visiting which enterprise, in your subtree."""
    items = handlers.list_links(
        service(), current_principal(), args.get("enterprise"), args.get("unit_id"), args["limit"]
    )
    return {"items": items}


def create_app(settings: Settings | None = None) -> Flask:
    return make_app(build(settings), title="onestop visits", blueprints=[blp])
