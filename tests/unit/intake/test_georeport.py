"""GeoReport v2, translated (pure): a posted request into a demand's body, a query's
parameters into a RequestQuery, our answers into its XML and JSON, its error codes."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from datetime import UTC, datetime

import pytest

from services.intake.georeport import (
    DEFAULT_WINDOW,
    Open311Error,
    check_format,
    check_location,
    demand_body,
    request_query,
    serialize,
    service_list,
    standard_status,
)
from shared.contracts.catalogue import BY_CODE, ITEMS

NOW = datetime(2026, 12, 1, 2, tzinfo=UTC)
FORM = {
    "service_code": "process_improvement",
    "description": "需要改进锂电池正极材料烧结工艺，降低能耗。",
    "attribute[credit_code]": "91630102MA7522T5X6",
    "attribute[enterprise_name]": "青海高原新材料科技有限公司",
}


def refused(call, *args):
    with pytest.raises(Open311Error) as exc:
        call(*args)
    return exc.value.code, exc.value.description


def test_errors_are_400_403_404_or_ours():
    assert [standard_status(s) for s in (400, 403, 404, 409, 422, 503)] == [
        400,
        403,
        404,
        400,
        400,
        503,
    ]
    assert check_format("xml") == "xml"
    assert refused(check_format, "csv") == (404, "format 'csv' is not served: use .xml or .json")


def test_a_request_needs_a_location():
    assert refused(check_location, FORM) == (
        400,
        "a location is required: lat and long, address_string or address_id",
    )
    assert refused(check_location, FORM | {"lat": "36.6"})[0] == 400  # a point needs both
    check_location(FORM | {"lat": "36.6", "long": "101.8"})
    check_location(FORM | {"address_id": "A1"})


def test_a_posted_request_becomes_a_demand_body():
    item = BY_CODE["process_improvement"]
    form = FORM | {
        "address_string": "八一路 1 号",
        "lat": "36.6",
        "long": "101.8",
        "first_name": "张",
        "last_name": "工",
        "attribute[consent_to_share]": "是",
        "media_url": "https://files.example/p.jpg",
    }
    body = demand_body(form, item, "630102")
    assert body["enterprise"] == {
        "credit_code": "91630102MA7522T5X6",
        "name": "青海高原新材料科技有限公司",
    }
    assert (body["category"], body["service_item"], body["source"]) == (
        "technology",
        "process_improvement",
        "online",
    )
    assert body["title"] == "工艺改进：" + FORM["description"][:40]
    assert body["consent_to_share"] is True and body["complexity"] == "general"
    assert body["contact"] == {"name": "张 工"} and body["jurisdiction"] == "630102"
    assert body["location"] == {"lat": "36.6", "long": "101.8", "address": "八一路 1 号"}
    assert body["media_url"] == "https://files.example/p.jpg"
    bare = demand_body(FORM | {"attribute[title]": "标题"}, item, None)
    assert bare["title"] == "标题" and "contact" not in bare and "media_url" not in bare
    assert bare["consent_to_share"] is False and bare["location"] == {}


def test_a_query_by_id_ignores_the_other_filters():
    q = request_query({"service_request_id": "a, b,,", "status": "nope"}, "630102", NOW)
    assert q.ids == ("a", "b") and q.jurisdiction == "630102" and q.start is None
    assert request_query({"service_request_id": ",,"}, None, NOW).ids == ()


def test_a_query_defaults_to_the_last_90_days_open_and_closed():
    q = request_query({}, None, NOW)
    assert (q.start, q.end, q.statuses, q.service_codes) == (
        NOW - DEFAULT_WINDOW,
        None,
        frozenset(),
        None,
    )
    q = request_query(
        {"end_date": "2026-06-30T00:00:00+08:00", "status": "open", "service_code": "a, b"},
        None,
        NOW,
    )
    assert q.end == datetime(2026, 6, 29, 16, tzinfo=UTC) and q.start == q.end - DEFAULT_WINDOW
    assert q.statuses == {"open"} and q.service_codes == ("a", "b")


def test_a_query_refuses_bad_dates_and_statuses():
    cases = {
        "start_date": ("yesterday", "start_date must be a W3C date-time with a time zone"),
        "end_date": ("2026-06-30T00:00:00", "end_date must include a time zone (Z or ±hh:mm)"),
        "status": ("pending", "status is open, closed or both (comma-separated)"),
    }
    for name, (value, message) in cases.items():
        assert refused(request_query, {name: value}, None, NOW) == (400, message)
    ancient = {"end_date": "0001-01-01T00:00:00Z"}
    assert "between the years 1900 and 2200" in refused(request_query, ancient, None, NOW)[1]
    backwards = {"start_date": "2026-02-01T00:00:00Z", "end_date": "2026-01-01T00:00:00Z"}
    assert refused(request_query, backwards, None, NOW) == (400, "start_date is after end_date")


def test_answers_render_as_the_standards_xml_or_as_json():
    rows = [{"service_request_id": "x", "at": NOW, "ok": True, "none": None, "tags": ["a"]}]
    body, content_type = serialize("json", "service_requests", "request", rows)
    assert content_type == "application/json; charset=utf-8"
    assert json.loads(body) == [dict(rows[0], at=NOW.isoformat())]
    body, content_type = serialize("xml", "service_requests", "request", rows)
    assert content_type == "text/xml; charset=utf-8"
    request = ET.fromstring(body).find("request")
    assert request.findtext("at") == NOW.isoformat() and request.findtext("ok") == "true"
    assert request.findtext("none") == "" and request.findtext("tags/tag") == "a"
    one, _ = serialize("xml", "service_definition", "", {"service_code": "x", "attributes": []})
    assert ET.fromstring(one).findtext("service_code") == "x"


def test_the_service_list_is_the_catalogue():
    services = service_list()
    assert [s["service_code"] for s in services] == [i.code for i in ITEMS]
    assert services[0]["type"] == "realtime" and services[0]["metadata"] is True
