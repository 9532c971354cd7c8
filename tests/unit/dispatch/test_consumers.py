"""Dispatch's consumers, applied through the inbox to a fake unit of work: the owner of an
accepted demand, the enterprise profiles, and what a closed or rejected demand ends."""

import json
from datetime import UTC, datetime

from sqlalchemy import select, update

from services.dispatch.agency_orders import list_assignments
from services.dispatch.consumers import (
    on_demand_accepted,
    on_demand_screened,
    on_demand_status_changed,
    on_enterprise,
)
from services.dispatch.models import assignments, decisions, enterprises
from services.dispatch.responsibility import put_department
from services.dispatch.schemas import AssignmentArgs, DepartmentIn
from services.dispatch.seed import seed_responsibility
from tests.factories import accepted_payload
from tests.fakes import actor


def test_owner_assignment_is_stored_and_emitted_with_the_correlation_id(uow, events, deliver):
    seed_responsibility(uow, [("cd", "630102", "城东区科学技术局", (), True)], [], [], "630100")
    [dept] = [e for e, _ in events()]  # the map announces its units (visits and scoring keep them)
    assert dept["event_type"] == "department.updated" and dept["payload"]["id"] == "cd"
    deliver("demand.accepted", on_demand_accepted, correlation_id="corr-42", **accepted_payload())
    [event] = [e for e, _ in events()][1:]
    assert event["event_type"] == "assignment.made"
    assert event["correlation_id"] == "corr-42"
    p = event["payload"]
    assert (p["kind"], p["assignee_type"], p["assignee_id"]) == ("owner", "department", "cd")
    with uow.read() as s:
        [row] = s.execute(select(assignments)).mappings().all()
    assert row["id"] == p["assignment_id"] and row["demand_code"] == p["demand_code"]


def test_no_possible_owner_raises_an_alert_not_silence(uow, events, deliver):
    # a division with no department anywhere on its path
    deliver("demand.accepted", on_demand_accepted, where="620102", **accepted_payload())
    [event] = [e for e, _ in events()]
    assert event["event_type"] == "assignment.failed"
    assert "no responsible department" in event["payload"]["reason"]
    with uow.read() as s:
        assert s.execute(select(assignments)).all() == []


def test_a_rejected_demand_withdraws_its_order_and_tells_the_agency(
    alliance, events, deliver, accept, orders_of
):
    code = accept()
    deliver(
        "demand.status_changed",
        on_demand_status_changed,
        demand_code=code,
        from_status="accepted",
        to_status="rejected",
        note="已解决",
        actor="k",
        at=datetime.now(UTC).isoformat(),
        category="ip",
    )
    [order] = orders_of(code)
    assert order["status"] == "withdrawn"
    [(msg, key)] = events("agency.order_withdrawn")
    assert key.endswith(".pat-a") and "rejected" in msg["payload"]["reason"]
    with alliance.read() as s:
        owner = s.execute(
            select(assignments.c.status).where(
                assignments.c.demand_code == code, assignments.c.kind == "owner"
            )
        ).scalar()
    assert owner == "done"


def _closed(deliver, code, frm="follow_up"):
    deliver(
        "demand.status_changed",
        on_demand_status_changed,
        demand_code=code,
        from_status=frm,
        to_status="closed",
        note="办结",
        resolution="solved",
        actor="k",
        at=datetime.now(UTC).isoformat(),
        category="ip",
        on_time=True,
    )


def test_an_order_the_agency_took_up_outlives_its_closed_demand(
    alliance, events, deliver, accept, orders_of
):
    """CX 第十九条: the agency completes and settles its order after the demand closed;
    an order nobody took up is withdrawn with the demand."""
    from datetime import timedelta

    from services.dispatch import agency_orders as orders
    from shared.timezone import china_today
    from tests.fakes import actor

    agency = actor("agency", "630100", agency_id="pat-a")
    taken, untaken = accept(), accept()
    [taken_order] = orders_of(taken)
    orders.act(alliance, agency, taken_order["id"], "acknowledge", {"note": ""}, correlation_id="c")
    for code in (taken, untaken):
        _closed(deliver, code)
    assert orders_of(taken)[0]["status"] == "acknowledged"  # keeps its own life
    assert orders_of(untaken)[0]["status"] == "withdrawn"
    assert [m["payload"]["demand_code"] for m, _ in events("agency.order_withdrawn")] == [untaken]
    funds = china_today() - timedelta(days=1)
    done = orders.act(
        alliance,
        agency,
        taken_order["id"],
        "complete",
        {"goal_reached": True, "funds_received_on": funds, "note": "完成"},
        correlation_id="c",
    )
    assert done["status"] == "completed" and done["settlement_due"] == funds + timedelta(days=7)


def test_a_reopened_demand_reopens_its_owner_assignment(alliance, deliver, accept):
    code = accept(item="policy_consulting", agency_category=None)
    change = {"demand_code": code, "note": "", "actor": "k", "category": "ip"}
    at = datetime.now(UTC).isoformat()
    deliver("demand.status_changed", on_demand_status_changed, **change, at=at,
            from_status="in_progress", to_status="closed")  # fmt: skip
    deliver("demand.status_changed", on_demand_status_changed, **change, at=at,
            from_status="closed", to_status="in_progress")  # fmt: skip
    with alliance.read() as s:
        owner = s.execute(select(assignments).where(assignments.c.demand_code == code)).one()
    assert (owner.status, owner.closed_at) == ("open", None)


def test_screening_moves_the_open_assignments_time_limit(alliance, deliver, accept, orders_of):
    code = accept()
    due = datetime(2031, 1, 2, 9, tzinfo=UTC)
    deliver(
        "demand.screened",
        on_demand_screened,
        demand_code=code,
        complexity="simple",
        expected_at=due.isoformat(),
        deadline_provisional=False,
        actor="k",
        at=datetime.now(UTC).isoformat(),
    )
    with alliance.read() as s:
        limits = set(s.execute(select(assignments.c.due_at)).scalars())
    assert limits == {due}


def test_a_key_enterprise_is_owned_by_its_named_person(alliance, events, deliver, accept):
    ent = accepted_payload()["enterprise"]
    deliver(
        "enterprise.registered",
        on_enterprise,
        credit_code=ent["credit_code"],
        name=ent["name"],
        jurisdiction="630102",
        is_key=True,
        needs_named_person=False,
        needs_one_plan=False,
    )
    accept(item="policy_consulting", agency_category=None)
    owner = [e for e, _ in events("assignment.made")][-1]["payload"]
    assert owner["assignee_type"] == "department" and "none is mapped" in owner["reason"]

    with alliance:
        alliance.session.execute(update(enterprises).values(named_staff_id="s-1"))
        alliance.commit()
    accept(item="policy_consulting", agency_category=None)
    owner = [e for e, _ in events("assignment.made")][-1]["payload"]
    assert (owner["assignee_type"], owner["assignee_id"]) == ("staff", "s-1")


PARK, STATION, SIBLING = "630102-P0001", "630102-P0001-W0001", "630102-P0002"


def test_a_park_demand_is_owned_along_its_path_and_seen_by_its_park_and_county_only(
    alliance, events, deliver
):
    def demand(where, number, **more):
        code = f"{where}-2026-{number:06d}"
        payload = accepted_payload(demand_code=code, category="technology", **more)
        deliver("demand.accepted", on_demand_accepted, where=where, **payload)
        return code

    def owner_of(code):
        return [e for e, _ in events("assignment.made") if e["payload"]["demand_code"] == code]

    in_park = demand(PARK, 1)
    [(made, key)] = [(e, k) for e, k in events("assignment.made")]
    assert key == "assignment.made.630000.630100.630102.630102-P0001"
    assert made["jurisdiction"] == PARK and made["payload"]["assignee_id"] == "cd-kjj"
    assert made["payload"]["reason"] == "default responsible department of 630102"

    def listed(who, **query):
        args = AssignmentArgs().load({k: str(v) for k, v in {"limit": 100, **query}.items()})
        return [a["demand_code"] for a in list_assignments(alliance, actor("district", who), args)]

    assert listed(PARK) == [in_park] and listed("630102") == [in_park]
    assert listed("630100", demand_code=in_park) == [in_park]
    assert listed(SIBLING) == [] and listed("630103") == []

    # the park's own office, opened by the park: nearest on the path wins, for the park
    # and its work station; the sibling park still goes to the county
    office = DepartmentIn().load(
        {"jurisdiction": PARK, "name": "东川工业园区管委会", "is_default": True}
    )
    put_department(alliance, actor("admin", PARK), "dc-office", office)
    in_station = demand(STATION, 1)
    in_sibling = demand(SIBLING, 1)
    [station_owner] = owner_of(in_station)
    assert station_owner["payload"]["assignee_id"] == "dc-office"
    assert station_owner["payload"]["reason"] == f"default responsible department of {PARK}"
    assert [e["payload"]["assignee_id"] for e in owner_of(in_sibling)] == ["cd-kjj"]
    assert sorted(listed(PARK)) == [in_park, in_station]
    assert listed(SIBLING) == [in_sibling]

    # a market service from the park: its city's alliance decides, as for its county
    market = demand(PARK, 2, service_item="ip_filing", agency_category="patent")
    with alliance.read() as s:
        [decision] = s.execute(select(decisions).where(decisions.c.demand_code == market)).all()
    assert (decision.jurisdiction, decision.city) == (PARK, "630100") and decision.agency_id
    made = {(e["payload"]["kind"], e["payload"]["assignee_id"]) for e in owner_of(market)}
    assert made == {("owner", "dc-office"), ("agency", decision.agency_id)}


def test_a_batch_of_demands_gets_the_owners_each_would_get_alone_in_four_reads(tmp_path):
    """``prepare_owners`` reads the links, profiles, departments and staff of a whole
    batch at once; each demand's owner is the one it gets when applied alone: a named
    person, an explicit standing link, the default department, a park's path, none."""
    from sqlalchemy import event as sa_event

    from services.dispatch import standing
    from services.dispatch.consumers import prepare_owners
    from services.dispatch.models import metadata
    from shared.events import make_event
    from shared.outbox import Inbox
    from tests.fakes import FakeDirectory, FakeUnitOfWork
    from tests.unit.dispatch.conftest import AGENCIES, DEPTS, MENU, STAFF

    key, linked, plain = (f"91630102MA7522T5X{i}" for i in (1, 2, 3))

    def dispatch_db(name):
        uow = FakeUnitOfWork(metadata, tmp_path / name, directory=FakeDirectory())
        seed_responsibility(uow, DEPTS, STAFF, AGENCIES, "630100", menu=MENU)
        inbox = Inbox(metadata.tables["processed_events"])
        for code in (key, linked, plain):
            profile = {"credit_code": code, "name": code, "jurisdiction": "630102"}
            flags = {"is_key": code == key, "needs_named_person": False, "needs_one_plan": False}
            ev = make_event("enterprise.registered", 1, producer="intake", jurisdiction="630102",
                            payload={**profile, **flags})  # fmt: skip
            inbox.apply(lambda: uow, "dispatch.on_enterprise", ev, on_enterprise)
        with uow:
            uow.session.execute(
                update(enterprises)
                .where(enterprises.c.credit_code == key)
                .values(named_staff_id="s-1")
            )
            uow.commit()
        standing.set_owner(
            uow, actor("district", "630102"), linked, {"staff_id": "s-lead", "reason": None}
        )
        return uow, inbox

    demands = [
        make_event("demand.accepted", 1, producer="intake", jurisdiction=where,
                   payload=accepted_payload(demand_code=f"{where}-2026-{n:06d}",
                                            enterprise={"credit_code": code, "name": code}))
        for n, (where, code) in enumerate(
            [("630102", key), ("630102", linked), ("630102", plain),
             ("630102-P0001", plain), ("630200", plain), ("630102", key)], start=1)
    ]  # fmt: skip

    def owners(uow):
        outbox = metadata.tables["outbox"]
        with uow.read() as s:
            bodies = [json.loads(b) for b in s.scalars(select(outbox.c.body).order_by("seq"))]
        return [
            (e["payload"]["demand_code"], e["event_type"], e["payload"].get("assignee_id"),
             e["payload"].get("reason"))
            for e in bodies if e["event_type"].startswith("assignment.")
        ]  # fmt: skip

    alone, inbox = dispatch_db("alone.db")
    for ev in demands:
        assert inbox.apply(lambda: alone, "dispatch.on_demand_accepted", ev, on_demand_accepted)
    together, inbox = dispatch_db("together.db")
    reads: list[str] = []

    def record(conn, cursor, statement, parameters, context, executemany):
        if statement.startswith("SELECT") and "FROM processed_events" not in statement:
            reads.append(statement.split("FROM")[1].split()[0])

    sa_event.listen(together.db.engine, "before_cursor_execute", record)
    applied = inbox.apply_batch(
        lambda: together, "dispatch.on_demand_accepted", demands, on_demand_accepted,
        prepare=prepare_owners,
    )  # fmt: skip
    assert applied == [True] * len(demands)
    assert sorted(reads) == ["departments", "enterprises", "staff", "standing_links"]
    got = owners(together)
    assert got == owners(alone)
    by_code = {code: (kind, who) for code, kind, who, _ in got}
    assert by_code["630102-2026-000001"] == ("assignment.made", "s-1")  # the named person
    assert by_code["630102-2026-000002"] == ("assignment.made", "s-lead")  # the explicit link
    assert by_code["630102-2026-000003"] == ("assignment.made", "cd-kjj")
    assert by_code["630102-P0001-2026-000004"] == ("assignment.made", "cd-kjj")
    assert by_code["630200-2026-000005"][0] == "assignment.failed"  # no department on its path
