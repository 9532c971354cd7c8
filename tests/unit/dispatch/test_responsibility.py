"""The responsibility map (包保) as use cases over a fake unit of work: departments, staff,
the named person of a key enterprise."""

from services.dispatch.consumers import on_enterprise
from services.dispatch.responsibility import (
    get_enterprise,
    list_departments,
    list_staff,
    name_owner,
    put_department,
    put_staff,
)
from services.dispatch.schemas import BlacklistIn, DepartmentIn
from tests.factories import accepted_payload
from tests.fakes import actor

CITY = actor("admin", "630100")
COUNTY = actor("district", "630102")
DEPT = {
    "jurisdiction": "630102",
    "name": "城东区工信局",
    "segments": ["ip", "ip", "finance"],
    "is_default": False,
}


def test_a_department_is_stored_and_announced_with_its_segments(alliance):
    contact = {"phone": "0971-6123456", "service_hours": "工作日 9:00–18:00"}
    out = put_department(alliance, COUNTY, "cd-gxj", {**DEPT, "leader_staff_id": "s-1", **contact})
    assert out["segments"] == ["finance", "ip"] and out["leader_staff_id"] == "s-1"
    assert (out["phone"], out["service_hours"]) == (contact["phone"], contact["service_hours"])
    changed = alliance.committed[-1]
    assert changed.payload["phone"] == "0971-6123456"
    assert changed.payload["service_hours"] == "工作日 9:00–18:00"
    assert changed.event_type == "department.updated" and changed.payload["segments"] == [
        "finance",
        "ip",
    ]
    listed = {d["id"]: d for d in list_departments(alliance, COUNTY)}
    assert set(listed) == {"cd-kjj", "cd-gxj"} and listed["cd-gxj"]["segments"] == ["finance", "ip"]
    assert listed["cd-gxj"]["phone"] == "0971-6123456"


def test_the_map_stays_in_the_actors_subtree(alliance, refusal):
    status, e = refusal(lambda: put_department(alliance, COUNTY, "xn-office", {**DEPT}))
    assert (status, e.message) == (403, "Jurisdiction 630100 is outside your subtree.")
    status, _ = refusal(
        lambda: put_department(alliance, COUNTY, "x", {**DEPT, "jurisdiction": "630103"})
    )
    assert status == 403
    status, e = refusal(
        lambda: put_department(alliance, COUNTY, "x", {**DEPT, "leader_staff_id": "nobody"})
    )
    assert status == 422 and e.fields == {"json": {"leader_staff_id": ["unknown staff id"]}}
    # a county key cannot move the city's staff into its own department
    put_staff(alliance, CITY, "s-city", {"department_id": "xn-office", "name": "王"})
    status, _ = refusal(
        lambda: put_staff(alliance, COUNTY, "s-city", {"department_id": "cd-kjj", "name": "王"})
    )
    assert status == 403
    status, e = refusal(
        lambda: put_staff(alliance, COUNTY, "s-9", {"department_id": "nope", "name": "王"})
    )
    assert status == 422 and e.fields == {"json": {"department_id": ["unknown department"]}}


def test_staff_are_stored_announced_and_listed_in_the_subtree(alliance):
    data = {"department_id": "cd-kjj", "name": "李明", "title": "科员", "phone": "13800971000"}
    out = put_staff(alliance, COUNTY, "s-9", data)
    assert out == {"id": "s-9", **data}
    changed = alliance.committed[-1]
    assert changed.event_type == "staff.updated" and changed.payload["jurisdiction"] == "630102"
    assert changed.payload["phone"] == "13800971000"
    assert [p["id"] for p in list_staff(alliance, COUNTY)] == ["s-1", "s-9", "s-lead"]
    assert list_staff(alliance, actor("district", "630103")) == []


def test_a_key_enterprise_gets_its_named_person(alliance, deliver, refusal):
    ent = accepted_payload()["enterprise"]
    code = ent["credit_code"]
    status, e = refusal(lambda: name_owner(alliance, CITY, code, {"staff_id": "s-1"}))
    assert status == 404 and "registered in intake" in e.message
    deliver(
        "enterprise.registered",
        on_enterprise,
        credit_code=code,
        name=ent["name"],
        jurisdiction="630102",
        is_key=True,
        needs_named_person=False,
        needs_one_plan=False,
    )
    status, e = refusal(lambda: name_owner(alliance, COUNTY, code, {"staff_id": "nobody"}))
    assert status == 422 and e.fields == {"json": {"staff_id": ["unknown staff id"]}}
    assert name_owner(alliance, COUNTY, code, {"staff_id": "s-1"})["named_staff_id"] == "s-1"
    assert name_owner(alliance, COUNTY, code, {"staff_id": None})["named_staff_id"] is None
    seen = get_enterprise(alliance, COUNTY, code)
    assert seen["is_key"] is True and seen["blacklisted"] == []
    status, _ = refusal(lambda: get_enterprise(alliance, actor("district", "630103"), code))
    assert status == 404


def test_a_department_and_an_alliance_sit_in_any_unit(uow):
    park = actor("admin", "630102-P0001")
    for where in ("630102-P0001", "630102-P0001-W0001", "630102001"):
        assert DepartmentIn().validate({**DEPT, "jurisdiction": where}) == {}
    assert DepartmentIn().validate({**DEPT, "jurisdiction": "630102-Q0001"}) == {
        "jurisdiction": ["not a unit code"]
    }
    blacklisting = {"reason": "abandoned", "note": "n"}
    assert BlacklistIn().validate({**blacklisting, "city": "630100"}) == {}
    assert BlacklistIn().validate({**blacklisting, "city": "630102-P0001"}) == {}
    assert BlacklistIn().validate({**blacklisting, "city": "630102-Q0001"}) == {
        "city": ["not a unit code"]
    }
    put_department(
        uow, park, "dc-office", DepartmentIn().load({**DEPT, "jurisdiction": park.jurisdiction})
    )
    assert [d["id"] for d in list_departments(uow, park)] == ["dc-office"]
    assert [d["id"] for d in list_departments(uow, COUNTY)] == ["dc-office"]
    assert list_departments(uow, actor("admin", "630102-P0002")) == []
