"""Open311 GeoReport v2 under ``/open311/v2/``, so unmodified service-request
clients can file and follow demands.

* ``services.{xml,json}`` — service list: our service items (group = category);
* ``services/{code}.{fmt}`` — service definition: the attributes a demand needs;
* ``requests.{fmt}`` — POST (``api_key`` required) files a demand; GET lists them
  (``service_request_id``, ``service_code``, ``start_date``, ``end_date``, ``status``;
  last 90 days and at most 1000 by default);
* ``requests/{id}.{fmt}`` — one request.

``jurisdiction_id`` is our GB/T 2260 code. XML is the standard's required format,
JSON is offered too. Errors are the standard's list of ``code``/``description``.
Reads are public unless an ``api_key`` is given; without the enterprise's consent a
public read shows no description, address or media (confidentiality, XN).
"""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from flask import Blueprint, Response, g, request
from marshmallow import ValidationError
from sqlalchemy import func, select
from werkzeug.exceptions import HTTPException

from services.intake import handlers
from services.intake.models import demand_updates, demands
from services.intake.schemas import DemandIn
from shared.auth import Principal
from shared.catalogue import BY_CODE, CATEGORY_NAMES, ITEMS
from shared.errors import ApiError, as_api_error
from shared.events import JURISDICTION_RE, subtree_prefix
from shared.usecases import DomainError
from shared.web import service

bp = Blueprint("open311", __name__, url_prefix="/open311/v2")
FORMATS = ("xml", "json")
# without consent the public sees the outcome, not the office's free text
PUBLIC_NOTES = {"closed": "已办结", "rejected": "不予受理"}
MAX_REQUESTS = 1000
DEFAULT_WINDOW = timedelta(days=90)
TRUE = ("true", "1", "yes", "y", "是")


class Open311Error(Exception):
    def __init__(self, code: int, description: str) -> None:
        super().__init__(description)
        self.code = code
        self.description = description


# -- rendering ------------------------------------------------------------------
def _xml_value(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, datetime):
        return value.isoformat()
    return str(value)


def _xml(root: str, item: str, rows: list[dict[str, Any]]) -> bytes:
    top = ET.Element(root)
    for row in rows:
        el = ET.SubElement(top, item)
        _xml_fill(el, row)
    return ET.tostring(top, encoding="utf-8", xml_declaration=True)


def _xml_fill(el: ET.Element, row: dict[str, Any]) -> None:
    for key, value in row.items():
        child = ET.SubElement(el, key)
        if isinstance(value, list):
            singular = key[:-1] if key.endswith("s") else key
            for entry in value:
                sub = ET.SubElement(child, singular)
                _xml_fill(sub, entry) if isinstance(entry, dict) else setattr(
                    sub, "text", _xml_value(entry)
                )
        else:
            child.text = _xml_value(value)


def _json_default(value: Any) -> str:
    if isinstance(value, datetime):
        return value.isoformat()
    raise TypeError(type(value))


def render(
    fmt: str, root: str, item: str, rows: list[dict[str, Any]] | dict[str, Any], status: int = 200
) -> Response:
    if fmt == "json":
        body = json.dumps(rows, ensure_ascii=False, default=_json_default)
        return Response(body, status=status, content_type="application/json; charset=utf-8")
    if isinstance(rows, dict):  # a service definition is one object, not a list
        top = ET.Element(root)
        _xml_fill(top, rows)
        data = ET.tostring(top, encoding="utf-8", xml_declaration=True)
    else:
        data = _xml(root, item, rows)
    return Response(data, status=status, content_type="text/xml; charset=utf-8")


def _fmt(fmt: str) -> str:
    if fmt not in FORMATS:
        raise Open311Error(404, f"format {fmt!r} is not served: use .xml or .json")
    return fmt


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


def _standard(status: int) -> int:
    """GeoReport v2 answers errors with 400, 403 or 404 (and 5xx for ours)."""
    return status if status in (400, 403, 404) or status >= 500 else 400


@bp.errorhandler(ApiError)
def _api_error(exc: ApiError) -> Response:
    detail = (
        f"{exc.message} {json.dumps(exc.fields, ensure_ascii=False)}"
        if exc.fields
        else (exc.message)
    )
    return _open311_error(Open311Error(_standard(exc.status), detail))


@bp.errorhandler(DomainError)
def _domain_error(exc: DomainError) -> Response:
    return _api_error(as_api_error(exc))


@bp.errorhandler(HTTPException)
def _http_error(exc: HTTPException) -> Response:
    return _open311_error(Open311Error(_standard(exc.code or 400), exc.description or exc.name))


@bp.before_request
def _format() -> None:
    path = request.path.rsplit(".", 1)
    g.open311_format = path[1] if len(path) == 2 and path[1] in FORMATS else "json"


# -- services -----------------------------------------------------------------
def _known_jurisdiction() -> None:
    """``jurisdiction_id`` is optional; when given it must be one of ours."""
    code = request.values.get("jurisdiction_id")
    if code is not None and (
        not JURISDICTION_RE.match(code) or service().directory.jurisdiction(code) is None
    ):
        raise Open311Error(404, f"jurisdiction_id {code} not found")


@bp.get("/services.<fmt>")
def service_list(fmt: str) -> Response:
    _known_jurisdiction()
    rows = [
        {
            "service_code": i.code,
            "service_name": i.name,
            "description": f"{CATEGORY_NAMES[i.category]} · {i.name}",
            "metadata": True,
            "type": "realtime",
            "keywords": f"{i.category},{i.agency_category or 'office'}",
            "group": CATEGORY_NAMES[i.category],
        }
        for i in ITEMS
    ]
    return render(_fmt(fmt), "services", "service", rows)


ATTRIBUTES = [
    {
        "variable": True,
        "code": "credit_code",
        "datatype": "string",
        "required": True,
        "datatype_description": "18-character unified social credit code (GB 32100-2015)",
        "order": 1,
        "description": "统一社会信用代码",
    },
    {
        "variable": True,
        "code": "enterprise_name",
        "datatype": "string",
        "required": True,
        "datatype_description": "",
        "order": 2,
        "description": "企业名称",
    },
    {
        "variable": True,
        "code": "title",
        "datatype": "string",
        "required": False,
        "datatype_description": "defaults to the service name and the start of the description",
        "order": 3,
        "description": "需求标题",
    },
    {
        "variable": True,
        "code": "consent_to_share",
        "datatype": "singlevaluelist",
        "required": False,
        "datatype_description": "",
        "order": 4,
        "description": "企业同意公开需求内容",
        "values": [{"key": "true", "name": "同意"}, {"key": "false", "name": "不同意"}],
    },
    {
        "variable": True,
        "code": "complexity",
        "datatype": "singlevaluelist",
        "required": False,
        "datatype_description": "",
        "order": 5,
        "description": "复杂程度",
        "values": [
            {"key": "simple", "name": "简单"},
            {"key": "general", "name": "一般"},
            {"key": "complex", "name": "复杂"},
        ],
    },
]


@bp.get("/services/<code>.<fmt>")
def service_definition(code: str, fmt: str) -> Response:
    _fmt(fmt)
    _known_jurisdiction()
    if code not in BY_CODE:
        raise Open311Error(404, f"service_code {code} not found")
    return render(fmt, "service_definition", "", {"service_code": code, "attributes": ATTRIBUTES})


# -- requests -----------------------------------------------------------------
def _principal(required: bool) -> Principal | None:
    key = request.values.get("api_key")
    if not key:
        if required:
            raise Open311Error(403, "api_key is required to submit a service request")
        return None
    principal = service().directory.authenticate(key)
    if principal is None or principal.role not in ("admin", "district", "staff"):
        raise Open311Error(403, "invalid api_key")
    return principal


def _jurisdiction(principal: Principal | None) -> str | None:
    code = request.values.get("jurisdiction_id")
    if code is None:
        return principal.jurisdiction if principal else None
    if not JURISDICTION_RE.match(code) or service().directory.jurisdiction(code) is None:
        raise Open311Error(404, f"jurisdiction_id {code} not found")
    if principal is not None and not principal.can_see(code):
        raise Open311Error(403, f"the api_key is not valid for jurisdiction_id {code}")
    return code


@bp.post("/requests.<fmt>")
def create_request(fmt: str) -> Response:
    _fmt(fmt)
    if not service().accepting.is_set():
        raise Open311Error(503, "intake is shutting down; retry shortly")
    principal = _principal(required=True)
    assert principal is not None
    form = request.values
    code = form.get("service_code")
    if not code:
        raise Open311Error(400, "service_code is required")
    item = BY_CODE.get(code)
    if item is None:
        raise Open311Error(404, f"service_code {code} not found")
    has_point = form.get("lat") and form.get("long")
    if not (has_point or form.get("address_string") or form.get("address_id")):
        raise Open311Error(
            400, "a location is required: lat and long, address_string or address_id"
        )
    attr = {k[len("attribute[") : -1]: v for k, v in form.items() if k.startswith("attribute[")}
    description = form.get("description", "")
    body: dict[str, Any] = {
        "enterprise": {
            "credit_code": attr.get("credit_code", ""),
            "name": attr.get("enterprise_name", ""),
        },
        "category": item.category,
        "service_item": item.code,
        "title": attr.get("title") or f"{item.name}：{description[:40]}",
        "description": description,
        "source": "online",
        "consent_to_share": attr.get("consent_to_share", "").lower() in TRUE,
        "complexity": attr.get("complexity") or "general",
        "jurisdiction": _jurisdiction(principal),
    }
    contact = {
        k: v
        for k, v in {
            "name": " ".join(x for x in (form.get("first_name"), form.get("last_name")) if x),
            "phone": form.get("phone"),
            "email": form.get("email"),
        }.items()
        if v
    }
    if contact:
        body["contact"] = contact
    location: dict[str, Any] = {}
    if has_point:
        location |= {"lat": form.get("lat"), "long": form.get("long")}
    if form.get("address_string"):
        location["address"] = form["address_string"]
    if form.get("address_id"):
        location["address_id"] = form["address_id"]
    body["location"] = location
    if form.get("media_url"):
        body["media_url"] = form["media_url"]
    try:
        data = DemandIn().load(body)
    except ValidationError as exc:
        raise Open311Error(
            400, "invalid service request: " + json.dumps(exc.messages, ensure_ascii=False)
        ) from None
    demand = handlers.accept_demand(service(), data, principal, g.correlation_id)
    return render(
        fmt,
        "service_requests",
        "request",
        [
            {
                "service_request_id": demand["code"],
                "service_notice": demand["service_notice"],
                "account_id": None,
            }
        ],
        status=201,
    )


def _as_request(
    row: Any, last_update: datetime | None, public: bool, notes: str | None
) -> dict[str, Any]:
    item = BY_CODE.get(row.service_item or "")
    hidden = public and not row.consent_to_share
    closed = row.status in ("closed", "rejected")
    return {
        "service_request_id": row.code,
        "status": "closed" if closed else "open",
        "status_notes": (PUBLIC_NOTES.get(row.status) if hidden and notes else notes),
        "service_name": item.name if item else CATEGORY_NAMES.get(row.category),
        "service_code": row.service_item,
        "description": None if hidden else row.description,
        "agency_responsible": row.owner_name,
        "service_notice": handlers.service_notice_of(row),
        "requested_datetime": row.accepted_at,
        "updated_datetime": last_update or row.accepted_at,
        "expected_datetime": row.expected_at,
        "address": None if hidden else row.address,
        "address_id": None if hidden else row.address_id,
        "zipcode": None,
        "lat": None if hidden else row.lat,
        "long": None if hidden else row.long,
        "media_url": None if hidden else row.media_url,
    }


def _listing(rows: Sequence[Any], public: bool) -> list[dict[str, Any]]:
    codes = [r.code for r in rows]
    if not codes:
        return []
    u = demand_updates
    with service().db.session() as s:
        latest = dict(
            s.execute(
                select(u.c.demand_code, func.max(u.c.at))
                .where(u.c.demand_code.in_(codes))
                .group_by(u.c.demand_code)
            ).all()
        )
        notes = {
            r.demand_code: r.note
            for r in s.execute(
                select(u.c.demand_code, u.c.note)
                .where(
                    u.c.demand_code.in_(codes),
                    u.c.kind == "transition",
                    u.c.to_status.in_(("closed", "rejected")),
                )
                .order_by(u.c.id)
            )
        }
    return [_as_request(r, latest.get(r.code), public, notes.get(r.code)) for r in rows]


def _w3c(name: str) -> datetime | None:
    raw = request.values.get(name)
    if raw is None:
        return None
    try:
        value = datetime.fromisoformat(raw.replace("Z", "+00:00"))
    except ValueError:
        raise Open311Error(400, f"{name} must be a W3C date-time with a time zone") from None
    if value.tzinfo is None:
        raise Open311Error(400, f"{name} must include a time zone (Z or ±hh:mm)")
    if not 1900 <= value.year <= 2200:
        raise Open311Error(400, f"{name} must be between the years 1900 and 2200")
    return value.astimezone(UTC)


@bp.get("/requests.<fmt>")
def list_requests(fmt: str) -> Response:
    _fmt(fmt)
    principal = _principal(required=False)
    root = _jurisdiction(principal)
    d = demands
    q = handlers._select()
    if root:
        q = q.where(d.c.jurisdiction.startswith(subtree_prefix(root)))
    ids = request.values.get("service_request_id")
    if ids:  # the other filters are ignored (GeoReport v2)
        q = q.where(d.c.code.in_([i.strip() for i in ids.split(",") if i.strip()]))
    else:
        codes = request.values.get("service_code")
        if codes:
            q = q.where(d.c.service_item.in_([c.strip() for c in codes.split(",")]))
        start, end = _w3c("start_date"), _w3c("end_date")
        if start and end and start > end:
            raise Open311Error(400, "start_date is after end_date")
        if start is None:
            start = (end or datetime.now(UTC)) - DEFAULT_WINDOW
        q = q.where(d.c.accepted_at >= start)
        if end is not None:
            q = q.where(d.c.accepted_at <= end)
        statuses = {s.strip() for s in request.values.get("status", "").split(",") if s.strip()}
        if statuses - {"open", "closed"}:
            raise Open311Error(400, "status is open, closed or both (comma-separated)")
        if statuses == {"open"}:
            q = q.where(d.c.status.notin_(("closed", "rejected")))
        elif statuses == {"closed"}:
            q = q.where(d.c.status.in_(("closed", "rejected")))
    with service().db.session() as s:
        rows = s.execute(q.order_by(d.c.accepted_at.desc()).limit(MAX_REQUESTS)).all()
    if principal is not None:
        rows = [r for r in rows if principal.can_see(r.jurisdiction)]
    return render(fmt, "service_requests", "request", _listing(rows, public=principal is None))


@bp.get("/requests/<code>.<fmt>")
def get_request(code: str, fmt: str) -> Response:
    _fmt(fmt)
    principal = _principal(required=False)
    with service().db.session() as s:
        row = s.execute(handlers._select().where(demands.c.code == code)).first()
    if row is None or (principal is not None and not principal.can_see(row.jurisdiction)):
        raise Open311Error(404, f"service_request_id {code} not found")
    return render(fmt, "service_requests", "request", _listing([row], public=principal is None))
