"""A park's key in every service (embedded shape): the province's administrator issues a
key for 东川工业园区 (630102-P0001, opened by the demo below 城东区); the park files a
demand under its own code, dispatch finds its owner along the path, the archive keeps its
trace, and the county sees it while another county does not."""

from __future__ import annotations

import pytest
from werkzeug.test import Client

from tests.e2e.support import auth, trace
from tests.factories import DEMO_DEMAND
from tests.support import wait_for

pytestmark = pytest.mark.e2e
PARK = "630102-P0001"  # 东川工业园区, in 城东区 (onestop.demo.UNITS)
IN_PARK = {"credit_code": "91630102MA00PK001U", "name": "东川园区新材料有限公司"}
DEMANDS = "/intake/api/v1/demands"


def issued(c, admin, role, jurisdiction):
    """A key issued through the directory, once intake (where it is used first) knows it."""
    r = c.post(
        "/directory/api/v1/keys",
        json={"name": f"{role} of {jurisdiction}", "role": role, "jurisdiction": jurisdiction},
        headers=admin,
    )
    assert r.status_code == 201, r.get_data(as_text=True)
    assert r.get_json()["jurisdiction"] == jurisdiction
    h = {"Authorization": f"Bearer {r.get_json()['key']}"}
    wait_for(lambda: c.get(DEMANDS, headers=h).status_code == 200, timeout=30)
    return h


def test_a_park_files_a_demand_its_county_sees_it_another_county_does_not(platform):
    c = Client(platform.wsgi)
    admin = auth(platform, "admin")
    park = issued(c, admin, "district", PARK)
    demand = {**DEMO_DEMAND, "enterprise": IN_PARK}
    r = c.post(DEMANDS, json=demand, headers={**park, "X-Correlation-ID": "corr-park-1"})
    assert r.status_code == 201, r.get_data(as_text=True)
    filed = r.get_json()
    code = filed["code"]
    assert code.startswith(f"{PARK}-") and filed["jurisdiction"] == PARK
    # dispatch: the park has no department of its own, so its county's owns the demand
    owner = wait_for(lambda: c.get(f"{DEMANDS}/{code}", headers=park).get_json()["owner"])
    assert owner["id"] == "cd-kjj"
    events = wait_for(lambda: (ev := trace(c, park, code)) and len(ev) >= 2 and ev, timeout=10)
    assert [e["event_type"] for e in events] == ["demand.accepted", "assignment.made"]
    assert {e["jurisdiction"] for e in events} == {PARK}
    assert {e["correlation_id"] for e in events} == {"corr-park-1"}
    made = events[1]["payload"]
    assert (made["assignee_id"], made["demand_code"]) == ("cd-kjj", code)
    assert made["reason"] == "default responsible department of 630102"
    r = c.get(f"/dispatch/api/v1/assignments?demand_code={code}", headers=park)
    assert [a["jurisdiction"] for a in r.get_json()["items"]] == [PARK]

    # the county (the demo's district key, 630102) sees it, also asked for the park alone
    county = auth(platform, "district")
    assert c.get(f"{DEMANDS}/{code}", headers=county).status_code == 200
    listed = c.get(DEMANDS, headers=county).get_json()["items"]
    assert code in [d["code"] for d in listed]
    only_park = c.get(f"{DEMANDS}?jurisdiction={PARK}", headers=county).get_json()["items"]
    assert [d["code"] for d in only_park] == [code]
    assert [e["event_type"] for e in trace(c, county, code)][:2] == [
        "demand.accepted",
        "assignment.made",
    ]
    # the park sees only its own subtree: not the county above it
    r = c.get(f"{DEMANDS}?jurisdiction=630102", headers=park)
    assert r.status_code == 403

    # another county (城中区) sees none of it
    other = issued(c, admin, "district", "630103")
    assert c.get(f"{DEMANDS}/{code}", headers=other).status_code == 404
    assert code not in [d["code"] for d in c.get(DEMANDS, headers=other).get_json()["items"]]
    assert c.get(f"{DEMANDS}?jurisdiction={PARK}", headers=other).status_code == 403
    assert c.get(f"/archive/api/v1/trace/{code}", headers=other).status_code == 404
    r = c.get(f"/dispatch/api/v1/assignments?demand_code={code}", headers=other)
    assert r.get_json()["items"] == []


def test_a_malformed_unit_code_is_a_field_error_not_a_server_error(platform):
    c = Client(platform.wsgi)
    county = auth(platform, "district")
    for bad in ("630102-X0001", "630102-P01", "630102-P0001-W0001-S0001-P0001"):
        r = c.post(DEMANDS, json={**DEMO_DEMAND, "jurisdiction": bad}, headers=county)
        assert r.status_code == 422, r.get_data(as_text=True)
        assert r.get_json()["error"]["fields"]["json"]["jurisdiction"] == ["not a unit code"]
    r = c.get(f"{DEMANDS}?jurisdiction=630102-X0001", headers=county)
    assert r.status_code == 422
    # well formed but not opened: unknown, a 422 too
    r = c.post(DEMANDS, json={**DEMO_DEMAND, "jurisdiction": "630102-P0099"}, headers=county)
    assert r.status_code == 422
