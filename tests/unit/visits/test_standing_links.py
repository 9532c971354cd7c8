"""Visits follows dispatch's standing 包保 links (``responsibility.linked``): once each,
the newest version wins whatever the order, demand links survive a change."""

import pytest
from sqlalchemy import select

from services.visits.handlers import on_responsibility_linked
from services.visits.models import enterprise_links, metadata
from shared.events import make_event
from tests.fakes import FakeUnitOfWork
from tests.unit.visits.test_handlers import apply, assignment


@pytest.fixture
def empty(tmp_path):
    return FakeUnitOfWork(metadata, tmp_path / "standing.db")


ENT = "91630102MA7522T5X6"


def linked(version, dept, staff=None, basis="rule:key"):
    return make_event(
        "responsibility.linked",
        1,
        producer="dispatch",
        jurisdiction="630102",
        payload={
            "credit_code": ENT,
            "department_id": dept,
            "department_name": f"{dept} name" if dept else None,
            "staff_id": staff,
            "staff_name": f"{staff} name" if staff else None,
            "basis": basis,
            "version": version,
            "since": f"2026-11-0{version}T02:00:00+00:00",
            "previous": None,
            "actor": "dispatch",
            "reason": "test",
        },
    )


def links(uow):
    with uow.read() as s:
        return {
            (r["unit_type"], r["unit_id"]): (r["standing"], r["demand_count"])
            for r in s.execute(select(enterprise_links)).mappings()
        }


def test_a_standing_link_before_any_demand_then_a_demand_folds_into_it(empty):
    first = linked(1, "cd-kjj")
    assert apply(empty, first, on_responsibility_linked)
    assert links(empty) == {("department", "cd-kjj"): (True, 0)}
    assert not apply(empty, first, on_responsibility_linked)  # redelivered: the inbox
    apply(empty, linked(1, "cd-other"), on_responsibility_linked)  # same version: no change
    assert links(empty) == {("department", "cd-kjj"): (True, 0)}
    assert apply(empty, assignment("D1", at="2026-11-05T02:00:00+00:00"))  # owner cd-kjj
    with empty.read() as s:
        row = s.execute(select(enterprise_links)).mappings().one()
    assert (row["demand_count"], row["last_demand_code"], row["standing"]) == (1, "D1", True)
    assert row["since"].isoformat() == "2026-11-01T02:00:00+00:00"


def test_the_newest_version_wins_in_any_order_and_demand_links_stay(empty):
    apply(empty, assignment("D1"))  # a demand made cd-kjj responsible
    apply(empty, linked(1, "cd-kjj", "staff-005"), on_responsibility_linked)
    apply(empty, linked(3, "cd-key", "staff-9", "explicit"), on_responsibility_linked)
    apply(empty, linked(2, "cd-other"), on_responsibility_linked)  # late: ignored
    assert links(empty) == {
        ("department", "cd-kjj"): (False, 1),  # its demand link stays, not standing
        ("department", "cd-key"): (True, 0),
        ("staff", "staff-9"): (True, 0),
    }
