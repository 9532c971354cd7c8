"""The visit log's use cases on a fake unit of work: what they store, what they
announce, what they refuse."""

from datetime import UTC, date, datetime

import pytest
from sqlalchemy import insert, select

from services.visits.handlers import on_demand_accepted, on_department, on_enterprise
from services.visits.models import (
    demands,
    metadata,
    visit_demands,
    visit_enterprises,
    visit_keys,
    visit_versions,
    visits,
)
from services.visits.schemas import VisitArgs, VisitIn
from services.visits.visitlog import (
    get_visit,
    list_visits,
    log_visit,
    revise_visit,
    stored_body,
    versions,
)
from shared.events import make_event
from shared.outbox import Inbox
from shared.usecases import Conflict, Forbidden, Invalid, NotFound
from tests.factories import VisitsWorld, accepted_payload
from tests.fakes import actor

ADMIN = actor("admin", "630000", key_id="k")
HAIDONG = actor("district", "630200")
E1, E2, E3 = VisitsWorld.E1, VisitsWorld.E2, VisitsWorld.E3
DAY = date(2026, 11, 17)


def command(**more):
    return {"visited_on": DAY, "enterprises": [E1], "kind": "demand_survey", **more}


def table(uow, t):
    with uow.read() as s:
        return [dict(r) for r in s.execute(select(t)).mappings()]


def test_a_visit_is_stored_and_announced(uow):
    raised = {
        "credit_code": E1,
        "category": "technology",
        "title": "检测设备",
        "description": "需要检测设备",
        "consent_to_share": False,
        "contact": {"name": "王工", "phone": "13800000000"},
    }
    body, replayed = log_visit(
        uow,
        ADMIN,
        command(staff_id="s-1", enterprises=[E1, E2], demands_raised=[raised], findings="f"),
        correlation_id="c-1",
    )
    assert not replayed
    [row] = table(uow, visits)
    assert (row["id"], row["version"], row["jurisdiction"]) == (body["visit_id"], 1, "630102")
    assert (row["staff_id"], row["department_id"], row["team_id"]) == ("s-1", "cd-kjj", None)
    assert (row["visited_on"], row["kind"], row["created_by"]) == (DAY, "demand_survey", "k")
    assert sorted(r["credit_code"] for r in table(uow, visit_enterprises)) == [E1, E2]
    [event] = uow.committed
    assert (event.event_type, event.jurisdiction, event.correlation_id) == (
        "visit.logged",
        "630102",
        "c-1",
    )
    assert event.payload["demands_raised"][0]["description"] == "需要检测设备"  # for intake
    assert event.payload["demands_raised"][0]["contact"] == {"name": "王工", "phone": "13800000000"}
    # kept without the demand's content and contact (intake keeps them, confidential)
    assert body["demands_raised"] == [
        {"credit_code": E1, "category": "technology", "service_item": None}
    ]
    assert body["staff_name"] == "陈静" and body["findings"] == "f"
    assert body["jurisdiction"] == "630102" and body["demands"] == []
    assert uow.commits == 1


def test_the_same_key_and_body_replay_the_first_visit(uow):
    first, _ = log_visit(uow, ADMIN, command(staff_id="s-1"), idempotency_key="key-1")
    again, replayed = log_visit(uow, ADMIN, command(staff_id="s-1"), idempotency_key="key-1")
    assert replayed and again == first
    assert len(table(uow, visits)) == 1 and uow.types() == ["visit.logged"]
    with pytest.raises(Conflict) as caught:
        log_visit(uow, ADMIN, command(staff_id="s-3"), idempotency_key="key-1")
    assert caught.value.code == "idempotency_key_reused"
    assert caught.value.message == "This Idempotency-Key was used with another request body."
    # another key (or another principal's same key) is another visit
    other = actor("admin", "630000", key_id="k2")
    log_visit(uow, other, command(staff_id="s-1"), idempotency_key="key-1")
    assert len(table(uow, visits)) == 2 and len(table(uow, visit_keys)) == 2


def test_a_refused_visit_stores_nothing(uow):
    with pytest.raises(Forbidden):
        log_visit(uow, HAIDONG, command(staff_id="s-1"), idempotency_key="key-1")
    assert table(uow, visits) == [] and table(uow, visit_keys) == [] and uow.committed == []


def test_a_revision_is_a_new_version_and_the_old_stays_readable(uow):
    with uow:
        uow.session.execute(
            insert(demands).values(code="D1", jurisdiction="630102", credit_code=E2)
        )
        uow.commit()
    first, _ = log_visit(uow, ADMIN, command(staff_id="s-1"))
    revised = revise_visit(
        uow,
        ADMIN,
        first["visit_id"],
        command(staff_id="s-3", enterprises=[E2], follow_up_of=["D1"], reason="wrong person"),
        correlation_id="c-2",
    )
    assert (revised["version"], revised["staff_name"], revised["reason"]) == (
        2,
        "李娜",
        "wrong person",
    )
    assert revised["demands"] == [{"demand_code": "D1", "link": "follow_up"}]
    assert [r["credit_code"] for r in table(uow, visit_enterprises)] == [E2]
    assert [v["version"] for v in versions(uow, ADMIN, first["visit_id"])] == [1, 2]
    assert len(table(uow, visit_versions)) == 2
    assert uow.types() == ["visit.logged", "visit.demand_linked", "visit.revised"]
    linked = uow.committed[1]
    assert (linked.jurisdiction, linked.payload["link"], linked.payload["demand_code"]) == (
        "630102",
        "follow_up",
        "D1",
    )
    # the same follow-up again is not linked (nor announced) twice
    again = command(staff_id="s-3", enterprises=[E2], follow_up_of=["D1"], reason="again")
    revise_visit(uow, ADMIN, first["visit_id"], again)
    assert uow.types()[-1] == "visit.revised" and uow.types().count("visit.demand_linked") == 1


def test_a_revision_raises_no_demand_and_stays_in_the_subtree(uow):
    first, _ = log_visit(uow, ADMIN, command(staff_id="s-1"))
    with pytest.raises(Invalid) as caught:
        revise_visit(
            uow,
            ADMIN,
            first["visit_id"],
            command(staff_id="s-1", demands_raised=[{"credit_code": E1}], reason="r"),
        )
    assert caught.value.fields == {
        "json": {
            "demands_raised": ["demands are raised when a visit is logged; log them in intake"]
        }
    }
    with pytest.raises(NotFound, match=f"No visit {first['visit_id']}"):
        revise_visit(uow, HAIDONG, first["visit_id"], command(staff_id="s-2", reason="r"))
    with pytest.raises(NotFound):
        get_visit(uow, HAIDONG, first["visit_id"])
    with pytest.raises(NotFound):
        versions(uow, ADMIN, "no-such-visit")


def test_visits_are_listed_newest_first_filtered_a_page_at_a_time(uow):
    ids = [
        log_visit(uow, ADMIN, command(staff_id=who, visited_on=day, enterprises=[ent]))[0][
            "visit_id"
        ]
        for who, day, ent in [
            ("s-1", date(2026, 11, 2), E1),
            ("s-2", date(2026, 11, 3), E3),
            ("s-3", date(2026, 11, 20), E2),
        ]
    ]
    page = list_visits(uow, ADMIN, {"limit": 2})
    assert [i["visit_id"] for i in page["items"]] == [ids[2], ids[1]]
    rest = list_visits(uow, ADMIN, {"limit": 2, "cursor": page["next_cursor"]})
    assert [i["visit_id"] for i in rest["items"]] == [ids[0]] and rest["next_cursor"] is None

    def found(principal=ADMIN, **args):
        return [i["visit_id"] for i in list_visits(uow, principal, {"limit": 10, **args})["items"]]

    assert found(HAIDONG) == [ids[1]]
    assert found(jurisdiction="630102") == [ids[2], ids[0]]
    assert found(enterprise=E3) == [ids[1]]
    assert found(department_id="cd-kjj") == [ids[2], ids[0]]
    assert found(period="2026-W45") == [ids[1], ids[0]]
    assert found(**{"from": date(2026, 11, 3), "to": date(2026, 11, 19)}) == [ids[1]]
    with pytest.raises(Forbidden, match="Jurisdiction 630102 is outside your subtree"):
        found(HAIDONG, jurisdiction="630102")
    with pytest.raises(Invalid) as caught:
        found(period="2026-W60")
    assert list(caught.value.fields["query"]) == ["period"]


def test_the_stored_body_keeps_a_raised_demands_enterprise_and_category_only():
    body = {
        "visit_id": "v",
        "demands_raised": [
            {
                "credit_code": E1,
                "category": "c",
                "content": "x",
                "contact": "y",
                "service_item": None,
            }
        ],
        "at": datetime(2026, 11, 17, tzinfo=UTC).isoformat(),
    }
    assert stored_body(body) == {
        "visit_id": "v",
        "demands_raised": [{"credit_code": E1, "category": "c", "service_item": None}],
        "at": "2026-11-17T00:00:00+00:00",
    }


PARK, STATION, SIBLING = "630102-P0001", "630102-P0001-W0001", "630102-P0002"
IN_PARK = {"credit_code": "91630102MA00PK001U", "name": "东川园区新材料有限公司"}


def known(uow, event_type, handler, where, **payload):
    """An event of another service, applied through the inbox as the worker applies it."""
    event = make_event(event_type, 1, producer="intake", jurisdiction=where, payload=payload)
    inbox = Inbox(metadata.tables["processed_events"])
    assert inbox.apply(lambda: uow, f"visits.{handler.__name__}", event, handler)


def test_a_park_logs_and_lists_its_visits_its_county_sees_them_a_sibling_does_not(uow):
    office = {"id": "dc-office", "name": "东川工业园区管委会", "jurisdiction": PARK,
              "segments": [], "is_default": True}  # fmt: skip
    known(uow, "department.updated", on_department, PARK, **office)
    flags = {"is_key": False, "needs_named_person": False, "needs_one_plan": False}
    known(uow, "enterprise.registered", on_enterprise, PARK, **IN_PARK, jurisdiction=PARK, **flags)
    code = f"{STATION}-2026-000001"  # a demand filed at the park's work station
    payload = accepted_payload(demand_code=code, enterprise=IN_PARK)
    known(uow, "demand.accepted", on_demand_accepted, STATION, **payload)
    park = actor("district", PARK)
    command = VisitIn().load(
        {
            "department_id": "dc-office",
            "enterprises": [IN_PARK["credit_code"]],
            "visited_on": DAY.isoformat(),
            "kind": "demand_survey",
            "follow_up_of": [code],
        }
    )
    visit, _ = log_visit(uow, park, command, correlation_id="c")
    vid = visit["visit_id"]
    assert visit["jurisdiction"] == PARK and visit["demands"] == [
        {"demand_code": code, "link": "follow_up"}
    ]
    logged = [e for e in uow.committed if e.event_type == "visit.logged"]
    assert [e.routing_key for e in logged] == ["visit.logged.630000.630100.630102.630102-P0001"]
    assert table(uow, visit_demands)[0]["demand_code"] == code

    def listed(who, **args):
        query = VisitArgs().load({k: str(v) for k, v in args.items()})
        return [v["visit_id"] for v in list_visits(uow, actor("district", who), query)["items"]]

    assert listed(PARK) == [vid] == listed("630102", jurisdiction=PARK)
    assert listed("630100", jurisdiction=PARK) == [vid]
    assert listed(SIBLING) == [] and listed(STATION) == []
    assert get_visit(uow, actor("district", "630102"), vid)["jurisdiction"] == PARK
    with pytest.raises(NotFound):
        get_visit(uow, actor("district", SIBLING), vid)
    with pytest.raises(Forbidden):
        listed(SIBLING, jurisdiction=PARK)
    with pytest.raises(Forbidden):  # the sibling park's key cannot log for the park's office
        log_visit(uow, actor("district", SIBLING), command)


@pytest.mark.parametrize(
    ("code", "ok"),
    [
        ("630102-2026-000001", True),
        ("630102-P0001-2026-000001", True),
        ("630102001-P0001-S0001-W0001-2026-000001", True),
        ("630102-X0001-2026-000001", False),
        ("630102-P0001-26-000001", False),
        ("630102-P0001", False),
    ],
)
def test_a_visit_follows_up_demands_filed_in_any_unit(code, ok):
    errors = VisitIn().validate(
        {**command(), "visited_on": DAY.isoformat(), "follow_up_of": [code]}
    )
    assert (errors == {}) is ok, errors


def test_a_person_is_credited_with_their_own_visits_and_logs_for_others_only_as_a_leader():
    """Issue 13: no key may credit visits (and so table A.1 points) to anyone."""
    from services.visits.visitlog import credited
    from shared.auth import Principal
    from shared.usecases import Forbidden

    body = {"kind": "demand_survey"}
    staff = Principal("person:chen.jing", "陈静", "staff", "630102", staff_id="staff-005")
    assert credited(staff, body)["staff_id"] == "staff-005"
    assert credited(staff, {**body, "staff_id": "staff-005"})["staff_id"] == "staff-005"
    with pytest.raises(Forbidden) as err:
        credited(staff, {**body, "staff_id": "staff-002"})
    assert err.value.fields == {"json": {"staff_id": ["not yours"]}}
    leader = Principal("person:leader", "领导", "district", "630102", staff_id="staff-004")
    assert credited(leader, {**body, "staff_id": "staff-005"})["staff_id"] == "staff-005"
    system = Principal("k1", "城东区系统", "district", "630102")
    assert credited(system, {**body, "staff_id": "staff-002"})["staff_id"] == "staff-002"
