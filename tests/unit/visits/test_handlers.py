"""Visits' consumers, applied once each through the inbox on a fake unit of work."""

from datetime import date

import pytest
from sqlalchemy import select

from services.visits.handlers import (
    on_assignment_made,
    on_demand_accepted,
    on_department,
    on_enterprise,
    on_staff,
)
from services.visits.models import demands, enterprise_links, enterprises, metadata, units
from services.visits.models import visit_demands as links_to_visits
from shared.events import make_event
from shared.outbox import Inbox
from tests.factories import VisitsWorld, accepted_payload
from tests.fakes import FakeUnitOfWork


def assignment(code, kind="owner", at="2026-11-03T02:00:00+00:00"):
    return make_event(
        "assignment.made",
        1,
        producer="dispatch",
        jurisdiction="630102",
        payload={
            "assignment_id": f"a-{code}",
            "demand_code": code,
            "kind": kind,
            "assignee_type": "department",
            "assignee_id": "cd-kjj",
            "assignee_name": "城东区科学技术局",
            "enterprise_credit_code": "91630102MA7522T5X6",
            "category": "technology",
            "reason": "default",
            "assigned_at": at,
        },
    )


@pytest.fixture
def empty(tmp_path):
    """Visits' tables with nothing announced yet."""
    return FakeUnitOfWork(metadata, tmp_path / "empty.db")


def apply(uow, ev, handler=on_assignment_made):
    inbox = Inbox(metadata.tables["processed_events"])
    return inbox.apply(lambda: uow, f"visits.{handler.__name__}", ev, handler)


def rows(uow, table):
    with uow.read() as s:
        return s.execute(select(table)).mappings().all()


def test_owner_assignments_fold_into_one_link_per_enterprise_and_unit(empty):
    first = assignment("D1")
    assert apply(empty, first)
    assert apply(empty, assignment("D2", at="2026-11-09T02:00:00+00:00"))
    assert not apply(empty, first)  # a redelivery changes nothing
    assert apply(empty, assignment("D3", kind="agency"))  # not an owner: no link
    [link] = rows(empty, enterprise_links)
    assert link["demand_count"] == 2
    assert link["last_demand_code"] == "D2"
    assert link["since"].isoformat() == "2026-11-03T02:00:00+00:00"


def test_a_batch_folds_its_assignments_as_one_by_one_would_with_one_read(tmp_path):
    """``prepare_links`` reads the batch's enterprises' links at once; the same pair twice
    in a batch, a pair stored before and a new one fold as applied one at a time."""
    from sqlalchemy import event as sa_event

    from services.visits.handlers import prepare_links

    def other(code, ent, at):
        ev = assignment(code, at=at)
        return make_event(
            "assignment.made", 1, producer="dispatch", jurisdiction="630102",
            payload={**ev.payload, "enterprise_credit_code": ent},
        )  # fmt: skip

    e2 = "91630102MA7522T5X7"
    first = assignment("D1")
    batch = [
        assignment("D2", at="2026-11-09T02:00:00+00:00"),  # joins D1's link
        other("D3", e2, "2026-11-10T02:00:00+00:00"),  # a new link …
        other("D4", e2, "2026-11-04T02:00:00+00:00"),  # … folded again, earlier
        assignment("D5", kind="agency"),
    ]
    alone = FakeUnitOfWork(metadata, tmp_path / "alone.db")
    for ev in [first, *batch]:
        assert apply(alone, ev)
    together = FakeUnitOfWork(metadata, tmp_path / "together.db")
    assert apply(together, first)
    reads = []
    sa_event.listen(
        together.db.engine,
        "before_cursor_execute",
        lambda c, cur, statement, *a: (
            reads.append(statement) if "FROM enterprise_links" in statement else None
        ),
    )
    inbox = Inbox(metadata.tables["processed_events"])
    applied = inbox.apply_batch(
        lambda: together, "visits.on_assignment_made", batch, on_assignment_made,
        prepare=prepare_links,
    )  # fmt: skip
    assert applied == [True] * 4 and len(reads) == 1
    key = ("enterprise_credit_code", "demand_count", "last_demand_code", "since")
    both = [sorted(tuple(r[k] for k in key) for r in rows(u, enterprise_links))
            for u in (alone, together)]  # fmt: skip
    assert both[0] == both[1]
    assert [r[:3] for r in both[1]] == [("91630102MA7522T5X6", 2, "D2"), (e2, 2, "D3")]


def test_units_and_enterprises_are_kept_as_announced(empty):
    department = {"id": "cd", "jurisdiction": "630102", "name": "城东区", "segments": [],
                  "is_default": True, "leader_staff_id": "lead"}  # fmt: skip
    staff = {"id": "lead", "department_id": "cd", "jurisdiction": "630102", "name": "赵敏",
             "title": "副局长"}  # fmt: skip
    enterprise = {"credit_code": VisitsWorld.E1, "name": "青海高原新材料", "jurisdiction": "630102",
                  "is_key": True, "needs_named_person": False, "needs_one_plan": False}  # fmt: skip
    for event_type, producer, payload, handler in [
        ("department.updated", "dispatch", department, on_department),
        ("staff.updated", "dispatch", staff, on_staff),
        ("enterprise.registered", "intake", enterprise, on_enterprise),
        ("department.updated", "dispatch", {**department, "name": "城东区科技局"}, on_department),
        ("enterprise.updated", "intake", {**enterprise, "is_key": False}, on_enterprise),
    ]:
        ev = make_event(event_type, 1, producer=producer, jurisdiction="630102", payload=payload)
        assert apply(empty, ev, handler)
    found = {u["id"]: u for u in rows(empty, units)}
    assert (found["cd"]["type"], found["cd"]["name"], found["cd"]["leader_staff_id"]) == (
        "department",
        "城东区科技局",
        "lead",
    )
    assert (found["lead"]["type"], found["lead"]["department_id"], found["lead"]["title"]) == (
        "staff",
        "cd",
        "副局长",
    )
    [ent] = rows(empty, enterprises)
    assert (ent["name"], ent["is_key"]) == ("青海高原新材料", False)


def test_a_demand_raised_on_a_visit_is_linked_back_once_and_announced(uow, visit):
    logged = visit(date(2026, 11, 17), [VisitsWorld.E1], staff_id="s-1")
    payload = accepted_payload(
        demand_code="630102-2026-000042",
        enterprise={"credit_code": VisitsWorld.E1, "name": "青海高原新材料科技有限公司"},
        source="field_visit",
        visit_id=logged["visit_id"],
    )
    ev = make_event("demand.accepted", 1, producer="intake", jurisdiction="630102", payload=payload)
    assert apply(uow, ev, on_demand_accepted)
    assert not apply(uow, ev, on_demand_accepted)
    [demand] = rows(uow, demands)
    assert (demand["code"], demand["credit_code"]) == ("630102-2026-000042", VisitsWorld.E1)
    [link] = rows(uow, links_to_visits)
    assert (link["visit_id"], link["link"]) == (logged["visit_id"], "raised")
    announced = uow.committed[-1]
    assert (announced.event_type, announced.correlation_id) == (
        "visit.demand_linked",
        ev.correlation_id,
    )
    assert announced.payload["credit_code"] == VisitsWorld.E1


def test_a_demand_not_raised_on_a_visit_is_only_kept(empty):
    ev = make_event("demand.accepted", 1, producer="intake", jurisdiction="630102",
                    payload=accepted_payload())  # fmt: skip
    assert apply(empty, ev, on_demand_accepted)
    assert [d["code"] for d in rows(empty, demands)] == ["630102-2026-000001"]
    assert rows(empty, links_to_visits) == [] and empty.committed == []
