"""Visits' consumer against its own (SQLite) database."""

import pytest
from sqlalchemy import select

from services.visits.handlers import on_assignment_made
from services.visits.models import enterprise_links
from shared.events import make_event


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
def svc(quiet_service):
    svc = quiet_service("visits")
    return svc


def apply(svc, ev):
    return svc.inbox.apply(svc.uow, "visits.on_assignment_made", ev, on_assignment_made)


def test_owner_assignments_fold_into_one_link_per_enterprise_and_unit(svc):
    first = assignment("D1")
    assert apply(svc, first)
    assert apply(svc, assignment("D2", at="2026-11-09T02:00:00+00:00"))
    assert not apply(svc, first)  # a redelivery changes nothing
    assert apply(svc, assignment("D3", kind="agency"))  # not an owner: no link
    with svc.db.session() as s:
        [link] = s.execute(select(enterprise_links)).mappings().all()
    assert link["demand_count"] == 2
    assert link["last_demand_code"] == "D2"
    assert link["since"].isoformat() == "2026-11-03T02:00:00+00:00"
