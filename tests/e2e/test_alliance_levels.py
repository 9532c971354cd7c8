"""An alliance belongs to the unit that runs the station, at any level (issue 13): a
county-level city running its own alliance (慈溪 330282 does; here 城东区 630102 plays it)
serves its own demands and its parks', while its siblings keep the prefecture's."""

from __future__ import annotations

import pytest
from werkzeug.test import Client

from tests.e2e.support import auth
from tests.factories import DEMO_DEMAND
from tests.support import wait_for

pytestmark = pytest.mark.e2e
API = "/dispatch/api/v1"
IP_DEMAND = {**DEMO_DEMAND, "category": "ip", "service_item": "ip_filing"}


def agency_order(c, h, code):
    def found():
        items = c.get(f"{API}/assignments?demand_code={code}&kind=agency", headers=h).get_json()
        return items["items"][0] if items["items"] else None

    return wait_for(found)


def test_a_county_level_alliance_serves_its_own_demands(platform):
    c = Client(platform.wsgi)
    admin, district = auth(platform, "admin"), auth(platform, "district")
    r = c.post(
        f"{API}/agencies",
        json={
            "id": "ag-cd-1",
            "name": "城东区知识产权服务中心",
            "category": "patent",
            "city": "630102",
            "rank_basis": 1,
            "engagements_two_years": 6,
        },
        headers=admin,
    )
    assert r.status_code == 201, r.get_json()
    assert r.get_json()["jurisdiction"] == "630102"
    # its own rules: the county-level alliance publishes them
    rules = c.get(f"{API}/alliances/630102/rules", headers=district)
    assert rules.status_code == 200 and rules.get_json()["city"] == "630102"
    r = c.post(
        "/intake/api/v1/demands", json={**IP_DEMAND, "consent_to_share": True}, headers=district
    )
    assert r.status_code == 201
    order = agency_order(c, district, r.get_json()["code"])
    assert order["assignee_id"] == "ag-cd-1"
    # a sibling county keeps the prefecture's alliance (the demo's patent agency)
    other = {
        **IP_DEMAND,
        "jurisdiction": "630103",
        "enterprise": {"credit_code": "91630103MA75A3KX7N", "name": "西宁光伏装备制造有限公司"},
    }
    r = c.post("/intake/api/v1/demands", json=other, headers=admin)
    assert r.status_code == 201, r.get_json()
    assert agency_order(c, admin, r.get_json()["code"])["assignee_id"] != "ag-cd-1"
