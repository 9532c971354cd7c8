"""Archive HTTP API."""

from __future__ import annotations

from typing import Any

from flask import Flask
from marshmallow import Schema, fields

from services.archive import build, handlers
from shared.config import Settings
from shared.web import OnestopBlueprint, current_principal, make_app, require_role, service

blp = OnestopBlueprint("archive", __name__, url_prefix="/api/v1", description="Archive (服务档案)")


class TraceOut(Schema):
    demand_code = fields.String()
    events = fields.List(fields.Dict(), metadata={"description": "envelopes, oldest first"})


@blp.get("/trace/<code>")
@require_role("admin", "district", "staff")
@blp.response(200, TraceOut)
def trace(code: str) -> dict[str, Any]:
    """A demand's whole history: every archived event in order, with its envelope."""
    return {"demand_code": code, "events": handlers.trace(service(), code, current_principal())}


def create_app(settings: Settings | None = None) -> Flask:
    return make_app(build(settings), title="onestop archive", blueprints=[blp])
