"""Dispatch's use cases against its own (SQLite) database, events captured from the outbox."""

import json

import pytest
from sqlalchemy import select

from services.dispatch.handlers import on_demand_accepted, seed_responsibility
from services.dispatch.models import assignments
from shared.events import make_event
from tests.factories import accepted_payload


@pytest.fixture
def svc(quiet_service):
    svc = quiet_service("dispatch")
    return svc


def outbox(svc):
    with svc.db.session() as s:
        return [json.loads(r.body) for r in s.execute(select(svc.outbox.c.body)).all()]


def accept(svc, jurisdiction, **payload):
    ev = make_event(
        "demand.accepted",
        1,
        producer="intake",
        jurisdiction=jurisdiction,
        payload=accepted_payload(**payload),
        correlation_id="corr-42",
    )
    assert svc.inbox.apply(svc.uow, "dispatch.on_demand_accepted", ev, on_demand_accepted)
    return ev


def test_owner_assignment_is_stored_and_emitted_with_the_correlation_id(svc):
    seed_responsibility(svc, [("cd", "630102", "城东区科学技术局", (), True)], [], [], "630100")
    [dept] = outbox(svc)  # the map announces its units (visits and scoring keep them)
    assert dept["event_type"] == "department.updated" and dept["payload"]["id"] == "cd"
    accept(svc, "630102")
    [event] = outbox(svc)[1:]
    assert event["event_type"] == "assignment.made"
    assert event["correlation_id"] == "corr-42"
    p = event["payload"]
    assert (p["kind"], p["assignee_type"], p["assignee_id"]) == ("owner", "department", "cd")
    with svc.db.session() as s:
        [row] = s.execute(select(assignments)).mappings().all()
    assert row["id"] == p["assignment_id"] and row["demand_code"] == p["demand_code"]


def test_no_possible_owner_raises_an_alert_not_silence(svc):
    accept(svc, "620102")  # a division with no department anywhere on its path
    [event] = outbox(svc)
    assert event["event_type"] == "assignment.failed"
    assert "no responsible department" in event["payload"]["reason"]
    with svc.db.session() as s:
        assert s.execute(select(assignments)).all() == []


def test_seeding_is_idempotent(svc):
    rows = [("cd", "630102", "城东区科学技术局", (), True)]
    assert seed_responsibility(svc, rows, [], [], "630100") == 1
    assert seed_responsibility(svc, rows, [], [], "630100") == 0
