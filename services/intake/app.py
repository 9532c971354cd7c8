"""Intake HTTP API: ``/api/v1/demands``."""

from __future__ import annotations

from typing import Any

from flask import Flask, g
from flask.views import MethodView

from services.intake import build, handlers
from services.intake.schemas import DemandIn, DemandList, DemandListArgs, DemandOut
from shared.config import Settings
from shared.errors import ApiError
from shared.web import OnestopBlueprint, current_principal, make_app, require_role, service

blp = OnestopBlueprint(
    "demands", __name__, url_prefix="/api/v1/demands", description="Demands (需求)"
)


@blp.route("")
class Demands(MethodView):
    @require_role("admin", "district", "staff")
    @blp.arguments(DemandIn)
    @blp.response(201, DemandOut)
    def post(self, data: dict[str, Any]) -> dict[str, Any]:
        """Accept a demand; it gets its unified code and ``demand.accepted`` is emitted."""
        svc = service()
        if not svc.accepting.is_set():
            raise ApiError(
                503, "Intake is shutting down; retry shortly.", headers={"Retry-After": "5"}
            )
        return handlers.accept_demand(svc, data, current_principal(), g.correlation_id)

    @require_role("admin", "district", "staff")
    @blp.arguments(DemandListArgs, location="query")
    @blp.response(200, DemandList)
    def get(self, args: dict[str, Any]) -> dict[str, Any]:
        """Demands in your jurisdiction subtree, newest first.

        Agencies are not handling parties of a demand until it is dispatched to
        them, so agency keys cannot read the demand ledger (confidentiality, XN).
        """
        items = handlers.list_demands(
            service(), current_principal(), args.get("status"), args["limit"]
        )
        return {"items": items}


@blp.route("/<code>")
class DemandItem(MethodView):
    @require_role("admin", "district", "staff")
    @blp.response(200, DemandOut)
    def get(self, code: str) -> dict[str, Any]:
        """One demand by its unified code."""
        return handlers.get_demand(service(), code, current_principal())


def create_app(settings: Settings | None = None) -> Flask:
    return make_app(build(settings), title="onestop intake", blueprints=[blp])
