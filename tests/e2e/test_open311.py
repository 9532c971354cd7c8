"""An Open311 GeoReport v2 client flow against intake (embedded shape)."""

from __future__ import annotations

import xml.etree.ElementTree as ET

import pytest
from werkzeug.test import Client

from tests.e2e.support import auth

pytestmark = pytest.mark.e2e
BASE = "/intake/open311/v2"


def key(p, role="district"):
    return auth(p, role)["Authorization"].split(" ", 1)[1]


def form(p, **over):
    data = {
        "api_key": key(p),
        "service_code": "process_improvement",
        "address_string": "西宁市城东区八一路 1 号",
        "description": "需要改进锂电池正极材料烧结工艺，降低能耗。",
        "attribute[credit_code]": "91630102MA7522T5X6",
        "attribute[enterprise_name]": "青海高原新材料科技有限公司",
        "first_name": "张",
        "last_name": "工",
        "phone": "0971-1234567",
    }
    data.update(over)
    return {k: v for k, v in data.items() if v is not None}


def test_service_discovery_in_json_and_xml(platform):
    c = Client(platform.wsgi)
    services = c.get(f"{BASE}/services.json").get_json()
    codes = {s["service_code"] for s in services}
    assert {"process_improvement", "ip_filing", "finance_matching"} <= codes
    assert all(s["type"] == "realtime" and s["metadata"] is True for s in services)
    r = c.get(f"{BASE}/services.xml")
    assert r.content_type.startswith("text/xml")
    root = ET.fromstring(r.data)
    assert root.tag == "services" and len(root.findall("service")) == len(services)
    d = c.get(f"{BASE}/services/ip_filing.json").get_json()
    assert d["service_code"] == "ip_filing"
    required = {a["code"] for a in d["attributes"] if a["required"]}
    assert required == {"credit_code", "enterprise_name"}
    x = ET.fromstring(c.get(f"{BASE}/services/ip_filing.xml").data)
    assert x.tag == "service_definition" and x.find("attributes/attribute/code") is not None
    assert c.get(f"{BASE}/services.json?jurisdiction_id=630102").status_code == 200
    assert c.get(f"{BASE}/services.json?jurisdiction_id=999999").status_code == 404
    err = c.get(f"{BASE}/services/nope.json")
    assert err.status_code == 404 and err.get_json()[0]["code"] == 404


def test_post_get_and_list_requests(platform):
    c = Client(platform.wsgi)
    r = c.post(f"{BASE}/requests.json", data=form(platform))
    assert r.status_code == 201, r.get_data(as_text=True)
    [created] = r.get_json()
    rid = created["service_request_id"]
    assert rid.startswith("630102-") and "承诺于" in created["service_notice"]
    assert "account_id" in created
    [one] = c.get(f"{BASE}/requests/{rid}.json").get_json()
    assert one["status"] == "open" and one["service_code"] == "process_improvement"
    assert one["description"] is None and one["address"] is None  # public: no consent
    assert one["expected_datetime"] and one["requested_datetime"]
    [mine] = c.get(f"{BASE}/requests/{rid}.json?api_key={key(platform)}").get_json()
    assert mine["description"].startswith("需要改进") and mine["address"].startswith("西宁市")
    shared = c.post(
        f"{BASE}/requests.json", data=form(platform, **{"attribute[consent_to_share]": "true"})
    )
    sid = shared.get_json()[0]["service_request_id"]
    listed = c.get(f"{BASE}/requests.json?service_request_id={rid},{sid}").get_json()
    by_id = {x["service_request_id"]: x for x in listed}
    assert set(by_id) == {rid, sid} and by_id[sid]["description"]
    assert c.get(f"{BASE}/requests.json?status=closed").get_json() == []
    opened = c.get(f"{BASE}/requests.json?status=open&service_code=process_improvement")
    assert {x["service_request_id"] for x in opened.get_json()} >= {rid, sid}
    future = c.get(f"{BASE}/requests.json?start_date=2099-01-01T00:00:00Z").get_json()
    assert future == []
    x = ET.fromstring(c.get(f"{BASE}/requests/{rid}.xml").data)
    assert x.tag == "service_requests" and x.find("request/service_request_id").text == rid
    # the staff closes it: Open311 shows closed with the note
    h = auth(platform, "district")
    for to in ("in_progress", "feedback"):
        c.post(f"/intake/api/v1/demands/{rid}/transitions", json={"to": to}, headers=h)
    c.post(
        f"/intake/api/v1/demands/{rid}/transitions",
        json={"to": "closed", "note": "工艺参数已优化", "resolution": "solved"},
        headers=h,
    )
    [done] = c.get(f"{BASE}/requests/{rid}.json").get_json()
    assert done["status"] == "closed" and done["status_notes"] == "已办结"  # no consent
    [mine] = c.get(f"{BASE}/requests/{rid}.json?api_key={key(platform)}").get_json()
    assert mine["status_notes"] == "工艺参数已优化"


def test_errors_are_the_standard_list(platform):
    c = Client(platform.wsgi)
    cases = [
        (form(platform, api_key=None), 403),
        (form(platform, api_key="osk_bad_bad"), 403),
        (form(platform, service_code="nope"), 404),
        (form(platform, service_code=None), 400),
        (form(platform, address_string=None), 400),
        (form(platform, **{"attribute[credit_code]": "91630102MA7522T5X7"}), 400),
        (form(platform, jurisdiction_id="630103"), 403),  # a sibling district
        (form(platform, jurisdiction_id="999999"), 404),
    ]
    for data, status in cases:
        r = c.post(f"{BASE}/requests.json", data=data)
        assert r.status_code == status, (data, r.get_data(as_text=True))
        [err] = r.get_json()
        assert err["code"] == status and err["description"]
    r = c.post(f"{BASE}/requests.xml", data=form(platform, api_key=None))
    root = ET.fromstring(r.data)
    assert root.tag == "errors" and root.find("error/code").text == "403"
    assert c.get(f"{BASE}/requests.json?start_date=yesterday").status_code == 400
    assert c.get(f"{BASE}/requests.json?status=pending").status_code == 400
    assert c.get(f"{BASE}/requests/630102-2026-999999.json").status_code == 404
    assert c.get(f"{BASE}/services.csv").status_code == 404
    agency = c.post(f"{BASE}/requests.json", data=form(platform, api_key=key(platform, "agency")))
    assert agency.status_code == 403
