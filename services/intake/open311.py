"""Open311 GeoReport v2 under ``/open311/v2/``, so unmodified service-request
clients can file and follow demands.

* ``services.{xml,json}`` — service list: our service items (group = category);
* ``services/{code}.{fmt}`` — service definition: the attributes a demand needs;
* ``requests.{fmt}`` — POST (``api_key`` required) files a demand; GET lists them
  (``service_request_id``, ``service_code``, ``start_date``, ``end_date``, ``status``;
  last 90 days and at most 1000 by default);
* ``requests/{id}.{fmt}`` — one request.

``jurisdiction_id`` is a unit code of our tree (``630102``, a park's ``630102-P0001``).
XML is the standard's required format, JSON is offered too. Errors are the standard's
list of ``code``/``description``. Reads are public unless an ``api_key`` is given;
without the enterprise's consent a public read shows no description, address or media
(confidentiality, XN).

The views only translate (``services.intake.georeport``) and call the use cases.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

from flask import Blueprint, Response, g, request
from marshmallow import ValidationError
from werkzeug.exceptions import HTTPException

from services.intake import georeport, servicerequests
from services.intake.accepting import AcceptDemand, accept_demand
from services.intake.georeport import (
    ATTRIBUTES,
    FORMATS,
    Open311Error,
    check_format,
    standard_status,
)
from services.intake.schemas import DemandIn
from shared.auth import Principal
from shared.contracts.catalogue import BY_CODE
from shared.errors import ApiError, as_api_error
from shared.events import UNIT_CODE_RE
from shared.usecases import DomainError
from shared.views import permit, require_permission, service

bp = Blueprint("open311", __name__, url_prefix="/open311/v2")


def render(
    fmt: str, root: str, item: str, rows: list[dict[str, Any]] | dict[str, Any], status: int = 200
) -> Response:
    body, content_type = georeport.serialize(fmt, root, item, rows)
    return Response(body, status=status, content_type=content_type)


# -- errors: the standard's list, whatever raised them -----------------------------
@bp.errorhandler(Open311Error)
def _open311_error(exc: Open311Error) -> Response:
    fmt = g.get("open311_format", "json")
    return render(
        fmt,
        "errors",
        "error",
        [{"code": exc.code, "description": exc.description}],
        status=exc.code,
    )


@bp.errorhandler(ApiError)
def _api_error(exc: ApiError) -> Response:
    detail = (
        f"{exc.message} {json.dumps(exc.fields, ensure_ascii=False)}"
        if exc.fields
        else (exc.message)
    )
    return _open311_error(Open311Error(standard_status(exc.status), detail))


@bp.errorhandler(DomainError)
def _domain_error(exc: DomainError) -> Response:
    return _api_error(as_api_error(exc))


@bp.errorhandler(HTTPException)
def _http_error(exc: HTTPException) -> Response:
    return _open311_error(
        Open311Error(standard_status(exc.code or 400), exc.description or exc.name)
    )


@bp.before_request
def _format() -> None:
    path = request.path.rsplit(".", 1)
    g.open311_format = path[1] if len(path) == 2 and path[1] in FORMATS else "json"


# -- who asks, and where ------------------------------------------------------------
def _known_jurisdiction() -> None:
    """``jurisdiction_id`` is optional; when given it must be one of ours."""
    code = request.values.get("jurisdiction_id")
    if code is not None and (
        not UNIT_CODE_RE.match(code) or service().directory.jurisdiction(code) is None
    ):
        raise Open311Error(404, f"jurisdiction_id {code} not found")


def _principal(action: str, required: bool) -> Principal | None:
    """The system whose ``api_key`` is given, when its role is in ``action``'s row of the
    permission matrix (403 naming the roles otherwise)."""
    key = request.values.get("api_key")
    if not key:
        if required:
            raise Open311Error(403, "api_key is required to submit a service request")
        return None
    principal = service().directory.authenticate(key)
    if principal is None:
        raise Open311Error(403, "invalid api_key")
    require_permission(action, principal)
    return principal


def _jurisdiction(principal: Principal | None) -> str | None:
    code = request.values.get("jurisdiction_id")
    if code is None:
        return principal.jurisdiction if principal else None
    if not UNIT_CODE_RE.match(code) or service().directory.jurisdiction(code) is None:
        raise Open311Error(404, f"jurisdiction_id {code} not found")
    if principal is not None and not principal.can_see(code):
        raise Open311Error(403, f"the api_key is not valid for jurisdiction_id {code}")
    return code


# -- services -----------------------------------------------------------------
@bp.get("/services.<fmt>")
@permit("intake.service_list")
def service_list(fmt: str) -> Response:
    _known_jurisdiction()
    return render(check_format(fmt), "services", "service", georeport.service_list())


@bp.get("/services/<code>.<fmt>")
@permit("intake.service_definition")
def service_definition(code: str, fmt: str) -> Response:
    check_format(fmt)
    _known_jurisdiction()
    if code not in BY_CODE:
        raise Open311Error(404, f"service_code {code} not found")
    return render(fmt, "service_definition", "", {"service_code": code, "attributes": ATTRIBUTES})


# -- requests -----------------------------------------------------------------
@bp.post("/requests.<fmt>")
@permit("intake.create_request")
def create_request(fmt: str) -> Response:
    check_format(fmt)
    if not service().accepting.is_set():
        raise Open311Error(503, "intake is shutting down; retry shortly")
    principal = _principal("intake.create_request", required=True)
    assert principal is not None
    code = request.values.get("service_code")
    if not code:
        raise Open311Error(400, "service_code is required")
    item = BY_CODE.get(code)
    if item is None:
        raise Open311Error(404, f"service_code {code} not found")
    georeport.check_location(request.values)
    body = georeport.demand_body(request.values, item, _jurisdiction(principal))
    try:
        data = DemandIn().load(body)
    except ValidationError as exc:
        raise Open311Error(
            400, "invalid service request: " + json.dumps(exc.messages, ensure_ascii=False)
        ) from None
    demand = accept_demand(
        service().uow(), principal, AcceptDemand(data), correlation_id=g.correlation_id
    )
    accepted = {
        "service_request_id": demand["code"],
        "service_notice": demand["service_notice"],
        "account_id": None,
    }
    return render(fmt, "service_requests", "request", [accepted], status=201)


@bp.get("/requests.<fmt>")
@permit("intake.list_requests")
def list_requests(fmt: str) -> Response:
    check_format(fmt)
    principal = _principal("intake.list_requests", required=False)
    query = georeport.request_query(request.values, _jurisdiction(principal), datetime.now(UTC))
    found = servicerequests.list_requests(service().uow(), principal, query)
    return render(fmt, "service_requests", "request", found)


@bp.get("/requests/<code>.<fmt>")
@permit("intake.get_request")
def get_request(code: str, fmt: str) -> Response:
    check_format(fmt)
    principal = _principal("intake.get_request", required=False)
    found = servicerequests.get_request(service().uow(), principal, code)
    return render(fmt, "service_requests", "request", found)
