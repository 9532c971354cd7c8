"""Manual records as use cases over a fake unit of work: entered with evidence (and
announced), listed, retracted once; refusals in the domain's words."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import select

from services.scoring import handlers as h
from services.scoring.models import manual_records, metadata
from services.scoring.records import enter_record, find_unit, list_records, retract_record
from shared.errors import status_of
from shared.events import make_event
from shared.timezone import CHINA, china_today
from shared.usecases import Conflict, Invalid, NotFound
from tests.fakes import FakeUnitOfWork, actor

J = "630102"
DISTRICT = actor("district", J)
SIBLING = actor("district", "630103")
THIS_MONTH = china_today().strftime("%Y-%m")


def department(uow: FakeUnitOfWork, unit_id: str = "d-a", jurisdiction: str = J) -> None:
    event = make_event(
        "department.updated",
        1,
        producer="dispatch",
        jurisdiction=jurisdiction,
        payload={
            "id": unit_id,
            "jurisdiction": jurisdiction,
            "name": "甲部室",
            "segments": [],
            "is_default": False,
            "leader_staff_id": None,
        },
    )
    with uow:
        h.on_unit(event, uow)
        uow.commit()


def command(**over) -> dict:
    return {
        "unit_id": "d-a",
        "period": THIS_MONTH,
        "kind": "integrity_rating",
        "value": 4,
        "evidence": "考核会议纪要 2026-11",
        **over,
    }


def enter(uow: FakeUnitOfWork, **over) -> dict:
    return enter_record(uow, DISTRICT, command(**over), correlation_id="cid-1")


def stored(uow: FakeUnitOfWork) -> list[dict]:
    with uow.read() as s:
        return [dict(r) for r in s.execute(select(manual_records)).mappings()]


def test_a_record_is_stored_and_announced(uow):
    department(uow)
    out = enter(uow, note="季度评议")
    [row] = stored(uow)
    assert row["id"] == out["id"] and row["unit_type"] == "department"
    assert (row["kind"], row["value"], row["jurisdiction"]) == ("integrity_rating", 4.0, J)
    assert (row["actor"], row["note"], row["retracted_at"]) == ("k-district", "季度评议", None)
    assert out["retracted_at"] is None and out["retract_reason"] is None
    [event] = uow.committed
    assert event.event_type == "scoring.record_entered"
    assert event.correlation_id == "cid-1" and event.jurisdiction == J
    assert event.payload["id"] == out["id"] and event.payload["evidence"] == row["evidence"]


def test_the_announcement_rebuilds_the_same_record(uow, tmp_path: Path):
    department(uow)
    enter(uow, kind="paper", value=2)
    [event] = uow.committed
    rebuilt = FakeUnitOfWork(metadata, tmp_path / "rebuilt.db")
    with rebuilt:
        h.on_record_entered(event, rebuilt)
        rebuilt.commit()
    assert stored(rebuilt) == stored(uow)


@pytest.mark.parametrize(
    "over,field",
    [
        ({"value": 6}, "value"),
        ({"kind": "efficiency_override", "value": 15.5}, "value"),
        ({"kind": "paper", "value": 1.5}, "value"),
        ({"period": "2999-01"}, "period"),
    ],
)
def test_a_value_out_of_bounds_or_a_future_month_is_invalid(uow, over, field):
    department(uow)
    with pytest.raises(Invalid) as exc:
        enter(uow, **over)
    assert status_of(exc.value) == 422
    assert list(exc.value.fields["json"]) == [field]
    assert stored(uow) == [] and uow.committed == []


def test_a_unit_outside_the_subtree_is_not_found(uow):
    department(uow, "d-b", "630103")
    with pytest.raises(NotFound) as exc:
        enter(uow, unit_id="d-b")
    assert exc.value.message == "No staff member or department d-b in your subtree."
    with pytest.raises(NotFound):
        enter(uow, unit_id="nobody")
    with uow.read() as s:
        assert find_unit(s, actor("admin", "630000"), "d-b").jurisdiction == "630103"


def test_a_record_is_retracted_once(uow):
    department(uow)
    rec = enter(uow)
    out = retract_record(
        uow, DISTRICT, rec["id"], {"reason": "entered twice"}, correlation_id="cid-2"
    )
    assert out["retract_reason"] == "entered twice" and out["retracted_by"] == "k-district"
    [row] = stored(uow)
    assert row["retracted_at"] is not None and row["retract_reason"] == "entered twice"
    assert uow.types() == ["scoring.record_entered", "scoring.record_retracted"]
    assert uow.committed[-1].payload["id"] == rec["id"]
    with pytest.raises(Conflict) as exc:
        retract_record(uow, DISTRICT, rec["id"], {"reason": "again"}, correlation_id="c")
    assert status_of(exc.value) == 409 and exc.value.message == "The record is already retracted."
    assert len(uow.committed) == 2


def test_retracting_an_unknown_or_unseen_record_is_not_found(uow):
    department(uow)
    rec = enter(uow)
    for who, record_id in ((DISTRICT, "nope"), (SIBLING, rec["id"])):
        with pytest.raises(NotFound) as exc:
            retract_record(uow, who, record_id, {"reason": "x"}, correlation_id="c")
        assert exc.value.message == f"No record {record_id}."


def test_a_units_records_of_a_period_retracted_ones_included(uow):
    department(uow)
    first = enter(uow, kind="paper", value=1)
    second = enter(uow, kind="paper", value=2)
    retract_record(uow, DISTRICT, first["id"], {"reason": "x"}, correlation_id="c")
    year = THIS_MONTH[:4]
    listed = list_records(uow, DISTRICT, {"unit": "d-a", "period": year})
    assert [r["id"] for r in listed] == [first["id"], second["id"]]
    assert listed[0]["retracted_at"] is not None and listed[1]["retracted_at"] is None
    assert list_records(uow, DISTRICT, {"unit": "d-a", "period": str(int(year) - 1)}) == []
    # a day lists the records entered on it (a record is entered for a month)
    entered = second["at"].astimezone(CHINA).date()
    assert first["at"].astimezone(CHINA).date() == entered
    on_it = list_records(uow, DISTRICT, {"unit": "d-a", "period": entered.isoformat()})
    assert [r["id"] for r in on_it] == [first["id"], second["id"]]
    before = (entered - timedelta(days=1)).isoformat()
    assert list_records(uow, DISTRICT, {"unit": "d-a", "period": before}) == []


def test_listing_needs_a_period_and_a_visible_unit(uow):
    department(uow)
    with pytest.raises(Invalid) as exc:
        list_records(uow, DISTRICT, {"unit": "d-a", "period": "2026-W54"})
    assert list(exc.value.fields["query"]) == ["period"]
    with pytest.raises(NotFound):
        list_records(uow, SIBLING, {"unit": "d-a", "period": THIS_MONTH})


def test_the_record_is_stamped_now(uow):
    department(uow)
    before = datetime.now(UTC)
    out = enter(uow)
    assert before <= out["at"] <= datetime.now(UTC)
