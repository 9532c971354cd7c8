"""Intake HTTP API: demands and their closed loop."""

from __future__ import annotations

from typing import Any

from flask import Flask, Response, g, request

from services.intake import (
    board,
    build,
    feed,
    loop,
    metrics,
    open311,
    reading,
    registry,
    subscribing,
    survey,
    timelimits,
)
from services.intake.accepting import AcceptDemand, accept_demand
from services.intake.callbacks import Reach
from services.intake.consent import set_consent
from services.intake.idempotency import IdempotencyKey, Replayed
from services.intake.schemas import (
    BoardArgs,
    BoardOut,
    CallbackIn,
    CallbackOut,
    Catalogue,
    ConsentIn,
    DeliveryList,
    DeliveryListArgs,
    DeliveryOut,
    DemandImportReport,
    DemandIn,
    DemandList,
    DemandListArgs,
    DemandOut,
    EnterpriseListArgs,
    EnterpriseOut,
    EnterprisePage,
    EnterprisePatchIn,
    EnterpriseProfileIn,
    ImportReport,
    RevisitIn,
    ScreeningIn,
    TimeLimitsIn,
    TimeLimitsOut,
    TransitionIn,
    UpdateList,
)
from services.intake.sheets import SheetError
from shared.config import Settings
from shared.contracts.catalogue import CATEGORY_NAMES, ITEMS
from shared.errors import ApiError
from shared.timezone import china_today
from shared.views import (
    OnestopBlueprint,
    current_principal,
    download,
    file_body,
    idempotency_key,
    permit,
    service,
    uploaded_file,
)
from shared.web import make_app

blp = OnestopBlueprint(
    "demands", __name__, url_prefix="/api/v1", description="Demands (需求) and their closed loop"
)


def _replayed(body: str) -> Response:
    return Response(
        body, status=201, mimetype="application/json", headers={"Idempotent-Replayed": "true"}
    )


@blp.get("/services")
@permit("intake.services")
@blp.response(200, Catalogue)
def services() -> dict[str, Any]:
    """The service catalogue: demand categories, their service items, and the agency
    category that serves each (finance, rd, patent, general)."""
    return {
        "categories": [
            {
                "code": code,
                "name": CATEGORY_NAMES[code],
                "items": [item for item in ITEMS if item.category == code],
            }
            for code in CATEGORY_NAMES
        ]
    }


@blp.post("/demands")
@permit("intake.create_demand")
@blp.arguments(DemandIn)
@blp.response(201, DemandOut)
@blp.doc(
    parameters=[
        {
            "in": "header",
            "name": "Idempotency-Key",
            "required": False,
            "schema": {"type": "string", "maxLength": 200},
            "description": "retries with the same key and body get the first response again "
            "(header Idempotent-Replayed: true); another body with it is a 409",
        }
    ]
)
def create_demand(data: dict[str, Any]) -> Any:
    """Accept a demand: its unified code, promised deadline and service notice.

    Emits ``demand.accepted``; the deadline counts working days on the Chinese
    calendar (simple: same working day, general: 5, complex: 20 by default).
    """
    svc = service()
    if not svc.accepting.is_set():
        raise ApiError(503, "Intake is shutting down; retry shortly.", headers={"Retry-After": "5"})
    key = idempotency_key()
    idempotency = None if key is None else IdempotencyKey.of(key, request.get_json())
    try:
        return accept_demand(
            svc.uow(),
            current_principal(),
            AcceptDemand(data, idempotency),
            correlation_id=g.correlation_id,
        )
    except Replayed as again:
        return _replayed(again.body)


@blp.get("/demands")
@permit("intake.list_demands")
@blp.arguments(DemandListArgs, location="query")
@blp.response(200, DemandList)
def list_demands(args: dict[str, Any]) -> Any:
    """Demands in your jurisdiction subtree, newest first; ``format=xlsx``: the demand
    ledger (需求台账) of every demand the filters select, headed in Chinese (content and
    contact only with the enterprise's consent).

    Agencies are not handling parties of a demand until it is dispatched to
    them, so agency keys cannot read the demand ledger (confidentiality, XN).
    """
    if args["format"] == "xlsx":
        book = reading.ledger(service().uow(), current_principal(), args)
        today = china_today().isoformat()
        return download(book, f"demand-ledger-{current_principal().jurisdiction}-{today}.xlsx")
    return reading.list_demands(service().uow(), current_principal(), args)


@blp.post("/demands/import")
@permit("intake.import_demands")
@blp.response(200, DemandImportReport)
@blp.doc(requestBody=file_body(".csv (UTF-8 or GB18030) or .xlsx, ≤ 20 MiB, ≤ 5,000 rows"))
def import_demands() -> dict[str, Any]:
    """The demands a 科技体检 survey sheet collected, one per row (Chinese or field-name
    headers: 统一社会信用代码, 企业名称, 需求类别, 需求名称, 需求内容, 服务事项, 复杂程度, 联系人,
    联系电话, 接收时间, 同意共享, 来源 — 走访收集 by default). Each valid row is accepted as a
    demand received at its 接收时间 (its time limits count from it; at most 30 days back);
    each invalid row is reported by number with its fields' reasons. Importing the same
    sheet again accepts nothing twice: a known row answers its demand (``unchanged``)."""
    svc = service()
    if not svc.accepting.is_set():
        raise ApiError(503, "Intake is shutting down; retry shortly.", headers={"Retry-After": "5"})
    upload = uploaded_file("sheet")
    try:
        return survey.import_demands(
            svc.uow(),
            current_principal(),
            registry.Sheet(upload.filename, upload.read()),
            correlation_id=g.correlation_id,
        )
    except SheetError as exc:
        raise ApiError(422, str(exc), fields={"files": {"file": [str(exc)]}}) from None


@blp.get("/demands/<code>")
@permit("intake.demand")
@blp.response(200, DemandOut)
def demand(code: str) -> dict[str, Any]:
    """One demand by its unified code."""
    return reading.get_demand(service().uow(), current_principal(), code)


@blp.post("/demands/<code>/transitions")
@permit("intake.transitions")
@blp.arguments(TransitionIn)
@blp.response(200, DemandOut)
@blp.alt_response(409, description="not allowed from the current status; names the allowed ones")
def transitions(data: dict[str, Any], code: str) -> dict[str, Any]:
    """Move the demand along its loop: accepted → in_progress → feedback → follow_up →
    closed (or rejected). Rejecting needs a reason; closing needs a resolution, and an
    unsolvable demand an explanation. Emits ``demand.status_changed``."""
    return loop.change_status(service().uow(), current_principal(), code, data)


@blp.patch("/demands/<code>/screening")
@permit("intake.screening")
@blp.arguments(ScreeningIn)
@blp.response(200, DemandOut)
def screening(data: dict[str, Any], code: str) -> dict[str, Any]:
    """Rate complexity, urgency and feasibility (需求筛选与分析); the deadline follows the
    complexity. Emits ``demand.screened``."""
    return loop.screen(service().uow(), current_principal(), code, data)


@blp.post("/demands/<code>/revisit")
@permit("intake.revisit")
@blp.arguments(RevisitIn)
@blp.response(200, DemandOut)
def revisit(data: dict[str, Any], code: str) -> dict[str, Any]:
    """The satisfaction revisit (满意度回访) of a closed demand: once per closure, rated
    1–5; a rating of 1 or 2 reopens follow-up. Emits ``demand.revisited``."""
    return loop.rate(service().uow(), current_principal(), code, data)


@blp.put("/demands/<code>/consent")
@permit("intake.consent")
@blp.arguments(ConsentIn)
@blp.response(200, DemandOut)
def consent(data: dict[str, Any], code: str) -> dict[str, Any]:
    """Grant or withdraw the consent to share the demand's content with the agency serving
    it (XN 保密): the enterprise itself, or its office on its word. Emits
    ``demand.consent_changed``; the agency order shows or hides the content."""
    return set_consent(service().uow(), current_principal(), code, data)


@blp.get("/demands/<code>/updates")
@permit("intake.updates")
@blp.response(200, UpdateList)
def updates(code: str) -> dict[str, Any]:
    """Every step of the demand, oldest first: who, when, what and why."""
    return {"demand_code": code, "items": feed.updates(service().uow(), current_principal(), code)}


@blp.post("/enterprises")
@permit("intake.register_enterprise")
@blp.arguments(EnterpriseProfileIn)
@blp.response(201, EnterpriseOut)
def register_enterprise(data: dict[str, Any]) -> dict[str, Any]:
    """Register an enterprise (创新主体信息库); the SX coverage flags are computed.
    Emits ``enterprise.registered``; a known credit code is a 409."""
    return registry.register(
        service().uow(), current_principal(), data, correlation_id=g.correlation_id
    )


@blp.get("/enterprises")
@permit("intake.list_enterprises")
@blp.arguments(EnterpriseListArgs, location="query")
@blp.response(200, EnterprisePage)
def list_enterprises(args: dict[str, Any]) -> dict[str, Any]:
    """Enterprises in your subtree, filtered, by credit code, with a cursor."""
    return registry.search(service().uow(), current_principal(), args)


@blp.get("/enterprises/<credit_code>")
@permit("intake.get_enterprise")
@blp.response(200, EnterpriseOut)
def get_enterprise(credit_code: str) -> dict[str, Any]:
    """One enterprise's profile and flags."""
    return registry.get(service().uow(), current_principal(), credit_code)


@blp.patch("/enterprises/<credit_code>")
@permit("intake.update_enterprise")
@blp.arguments(EnterprisePatchIn(partial=True))
@blp.response(200, EnterpriseOut)
def update_enterprise(data: dict[str, Any], credit_code: str) -> dict[str, Any]:
    """Change the fields sent; the flags follow. Emits ``enterprise.updated``."""
    return registry.patch(
        service().uow(), current_principal(), credit_code, data, correlation_id=g.correlation_id
    )


@blp.post("/enterprises/import")
@permit("intake.import_enterprises")
@blp.response(200, ImportReport)
@blp.doc(requestBody=file_body(".csv (UTF-8 or GB18030) or .xlsx, ≤ 20 MiB"))
def import_enterprises() -> dict[str, Any]:
    """Bulk import of the 科技体检 survey sheet (CSV or XLSX, Chinese or field-name headers).

    Every valid row is registered or updated, every invalid row reported with its row
    number and reason; importing the same file again changes nothing."""
    upload = uploaded_file("sheet")
    try:
        return registry.import_sheet(
            service().uow(),
            current_principal(),
            registry.Sheet(upload.filename, upload.read()),
            correlation_id=g.correlation_id,
        )
    except SheetError as exc:
        raise ApiError(422, str(exc), fields={"files": {"file": [str(exc)]}}) from None


@blp.get("/time-limits/<jurisdiction>")
@permit("intake.get_time_limits")
@blp.response(200, TimeLimitsOut)
def get_time_limits(jurisdiction: str) -> dict[str, Any]:
    """The time limits (working days) and closure days in force for a jurisdiction."""
    return timelimits.get_time_limits(service().uow(), current_principal(), jurisdiction)


@blp.put("/time-limits/<jurisdiction>")
@permit("intake.set_time_limits")
@blp.arguments(TimeLimitsIn)
@blp.response(200, TimeLimitsOut)
def set_time_limits(data: dict[str, Any], jurisdiction: str) -> dict[str, Any]:
    """Set a jurisdiction's own time limits and closure days (admin)."""
    return timelimits.set_time_limits(service().uow(), current_principal(), jurisdiction, data)


# -- callbacks to the system that filed a demand (services.intake.callbacks) ----------------
STATUS_CHANGE_CALLBACK = {
    "statusChanged": {
        "{$request.body#/url}": {
            "post": {
                "summary": "A status change of a demand this key filed",
                "description": "The body is the demand.status_changed event's envelope, as on "
                "the bus (docs/asyncapi.yaml); one change per request, in order per demand, "
                "at least once (drop a webhook-id seen before). Signed the Standard Webhooks "
                "way: verify webhook-signature (v1,base64 HMAC-SHA256 of "
                "'{webhook-id}.{webhook-timestamp}.{body}' under the secret's base64 after "
                "whsec_) and refuse a timestamp more than 5 minutes from your clock. Any 2xx "
                "acknowledges; anything else is retried with back-off, then dead-lettered. "
                "See examples/callback_receiver.py.",
                "parameters": [
                    {"in": "header", "name": n, "required": True, "schema": {"type": "string"}}
                    for n in ("webhook-id", "webhook-timestamp", "webhook-signature")
                ],
                "requestBody": {
                    "required": True,
                    "content": {
                        "application/json": {
                            "schema": {
                                "type": "object",
                                "required": ["event_id", "event_type", "payload"],
                                "properties": {
                                    "event_id": {"type": "string", "format": "uuid"},
                                    "event_type": {
                                        "type": "string",
                                        "enum": ["demand.status_changed"],
                                    },
                                    "event_version": {"type": "integer"},
                                    "occurred_at": {"type": "string", "format": "date-time"},
                                    "producer": {"type": "string"},
                                    "correlation_id": {"type": "string"},
                                    "jurisdiction": {"type": "string"},
                                    "payload": {
                                        "type": "object",
                                        "description": "demand_code, from_status, to_status, "
                                        "note, resolution, actor, at, category, on_time",
                                    },
                                },
                            }
                        }
                    },
                },
                "responses": {"2XX": {"description": "received"}},
            }
        }
    }
}


@blp.put("/callback")
@permit("intake.register_callback")
@blp.arguments(CallbackIn)
@blp.response(200, CallbackOut)
@blp.doc(callbacks=STATUS_CHANGE_CALLBACK)
def register_callback(data: dict[str, Any]) -> dict[str, Any]:
    """Register (or replace) your key's callback URL: every status change of the demands
    your key files is POSTed there, signed with the secret answered now, once. A URL that
    is not https is a 422 naming the field."""
    svc = service()
    s = svc.settings
    return subscribing.register(
        svc.uow(),
        current_principal(),
        data,
        loopback_http=s.callback_loopback_http,
        reach=Reach.of(s.callback_loopback_http, s.callback_private_networks),
    )


@blp.get("/callback")
@permit("intake.get_callback")
@blp.response(200, CallbackOut)
def get_callback() -> dict[str, Any]:
    """Your key's callback URL (its secret is shown only when registering)."""
    return subscribing.get(service().uow(), current_principal())


@blp.delete("/callback")
@permit("intake.remove_callback")
@blp.response(204)
def remove_callback() -> None:
    """Remove your key's callback; deliveries still pending are dead-lettered."""
    subscribing.unregister(service().uow(), current_principal())


@blp.get("/callback/deliveries")
@permit("intake.callback_deliveries")
@blp.arguments(DeliveryListArgs, location="query")
@blp.response(200, DeliveryList)
def callback_deliveries(args: dict[str, Any]) -> dict[str, Any]:
    """Your key's delivery log, newest first: each change, its attempts, the receiver's
    last answer, and whether it is pending, delivered or dead-lettered."""
    return subscribing.log(service().uow(), current_principal(), args)


@blp.post("/callback/deliveries/<int:delivery_id>/resend")
@permit("intake.resend_delivery")
@blp.response(202, DeliveryOut)
@blp.alt_response(409, description="still pending, or already being re-sent")
def resend_delivery(delivery_id: int) -> dict[str, Any]:
    """Send a delivered or dead-lettered change again (a new delivery in the log, queued
    behind what is pending for that demand, with the same webhook-id)."""
    return subscribing.resend(service().uow(), current_principal(), delivery_id)


@blp.get("/board/<jurisdiction>")
@permit("intake.daily_board")
@blp.arguments(BoardArgs, location="query")
@blp.response(200, BoardOut)
def daily_board(args: dict[str, Any], jurisdiction: str) -> Any:
    """The daily board (日调度) of a jurisdiction's subtree: new that day, due that day,
    overdue, escalated to a leader, awaiting the first response — counts and the demands
    (at most 200 per section; ``format=xlsx``: every one, a sheet per section)."""
    if args["format"] == "xlsx":
        book, m = board.board_workbook(
            service().uow(), current_principal(), jurisdiction, args.get("date")
        )
        return download(book, f"daily-board-{jurisdiction}-{m.day.isoformat()}.xlsx")
    return board.daily_board(service().uow(), current_principal(), jurisdiction, args.get("date"))


def create_app(settings: Settings | None = None) -> Flask:
    app = make_app(
        build(settings), title="onestop intake", blueprints=[blp], on_scrape=metrics.refresh
    )
    app.register_blueprint(open311.bp)
    return app
