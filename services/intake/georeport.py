"""Open311 GeoReport v2, translated: the standard's forms and queries into our commands,
our answers into its XML or JSON, and its list of errors. Pure: no Flask, no database.
"""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from shared.contracts.catalogue import CATEGORY_NAMES, ITEMS, ServiceItem

FORMATS = ("xml", "json")
MAX_REQUESTS = 1000
DEFAULT_WINDOW = timedelta(days=90)
TRUE = ("true", "1", "yes", "y", "是")


class Open311Error(Exception):
    """One entry of the standard's error list; ``code`` is also the HTTP status."""

    def __init__(self, code: int, description: str) -> None:
        super().__init__(description)
        self.code = code
        self.description = description


def standard_status(status: int) -> int:
    """GeoReport v2 answers errors with 400, 403 or 404 (and 5xx for ours)."""
    return status if status in (400, 403, 404) or status >= 500 else 400


def check_format(fmt: str) -> str:
    if fmt not in FORMATS:
        raise Open311Error(404, f"format {fmt!r} is not served: use .xml or .json")
    return fmt


# -- rendering ------------------------------------------------------------------
def _xml_value(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, datetime):
        return value.isoformat()
    return str(value)


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


def serialize(
    fmt: str, root: str, item: str, rows: list[dict[str, Any]] | dict[str, Any]
) -> tuple[bytes | str, str]:
    """The body and content type of ``rows`` (a list of ``item`` elements under
    ``root`` in XML, or one object such as a service definition)."""
    if fmt == "json":
        body = json.dumps(rows, ensure_ascii=False, default=_json_default)
        return body, "application/json; charset=utf-8"
    top = ET.Element(root)
    if isinstance(rows, dict):  # a service definition is one object, not a list
        _xml_fill(top, rows)
    else:
        for row in rows:
            _xml_fill(ET.SubElement(top, item), row)
    return ET.tostring(top, encoding="utf-8", xml_declaration=True), "text/xml; charset=utf-8"


# -- services -----------------------------------------------------------------
def service_list() -> list[dict[str, Any]]:
    """Our service items as the standard's service list (group = category)."""
    return [
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


# -- a service request, posted ------------------------------------------------------
def has_point(form: Mapping[str, str]) -> bool:
    return bool(form.get("lat") and form.get("long"))


def check_location(form: Mapping[str, str]) -> None:
    """The standard needs a location: a point, an address or an address id."""
    if not (has_point(form) or form.get("address_string") or form.get("address_id")):
        raise Open311Error(
            400, "a location is required: lat and long, address_string or address_id"
        )


def _contact(form: Mapping[str, str]) -> dict[str, Any]:
    return {
        k: v
        for k, v in {
            "name": " ".join(x for x in (form.get("first_name"), form.get("last_name")) if x),
            "phone": form.get("phone"),
            "email": form.get("email"),
        }.items()
        if v
    }


def _location(form: Mapping[str, str]) -> dict[str, Any]:
    location: dict[str, Any] = {}
    if has_point(form):
        location |= {"lat": form.get("lat"), "long": form.get("long")}
    if form.get("address_string"):
        location["address"] = form["address_string"]
    if form.get("address_id"):
        location["address_id"] = form["address_id"]
    return location


def demand_body(
    form: Mapping[str, str], item: ServiceItem, jurisdiction: str | None
) -> dict[str, Any]:
    """A posted service request as the body of a demand (``DemandIn``, to be loaded):
    the enterprise and the rest from the ``attribute[...]`` fields."""
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
        "jurisdiction": jurisdiction,
    }
    contact = _contact(form)
    if contact:
        body["contact"] = contact
    body["location"] = _location(form)
    if form.get("media_url"):
        body["media_url"] = form["media_url"]
    return body


# -- service requests, queried ------------------------------------------------------
@dataclass(frozen=True)
class RequestQuery:
    """Which requests to list, within ``jurisdiction`` (None: everywhere): by id (the
    other filters are then ignored, as the standard says), or by service code, date
    window and open/closed."""

    jurisdiction: str | None = None
    ids: tuple[str, ...] | None = None
    service_codes: tuple[str, ...] | None = None
    start: datetime | None = None
    end: datetime | None = None
    statuses: frozenset[str] = frozenset()


def w3c(values: Mapping[str, str], name: str) -> datetime | None:
    """A W3C date-time parameter, in UTC; it must carry its time zone."""
    raw = values.get(name)
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


def request_query(
    values: Mapping[str, str], jurisdiction: str | None, now: datetime
) -> RequestQuery:
    """The query of ``GET requests``: by default the last 90 days before ``end_date``
    (or now), open and closed alike."""
    ids = values.get("service_request_id")
    if ids:
        found = tuple(i.strip() for i in ids.split(",") if i.strip())
        return RequestQuery(jurisdiction=jurisdiction, ids=found)
    codes = values.get("service_code")
    start, end = w3c(values, "start_date"), w3c(values, "end_date")
    if start and end and start > end:
        raise Open311Error(400, "start_date is after end_date")
    statuses = frozenset(s.strip() for s in values.get("status", "").split(",") if s.strip())
    if statuses - {"open", "closed"}:
        raise Open311Error(400, "status is open, closed or both (comma-separated)")
    return RequestQuery(
        jurisdiction=jurisdiction,
        service_codes=tuple(c.strip() for c in codes.split(",")) if codes else None,
        start=start if start is not None else (end or now) - DEFAULT_WINDOW,
        end=end,
        statuses=statuses,
    )
