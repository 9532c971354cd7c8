"""A demand's trace and the search, scoped to the actor's subtree (fake unit of work)."""

from datetime import timedelta
from types import SimpleNamespace

import pytest

from services.archive.app import SearchArgs
from services.archive.search import home_of, matching, search, trace
from shared.errors import status_of
from shared.usecases import Forbidden, Invalid, NotFound
from tests.factories import accepted_payload
from tests.fakes import actor

CODE = "630102-2026-000042"


@pytest.fixture
def life(archive, event, t0):
    """A demand filed in 630102, assigned by dispatch (the event filed in 630000), and a
    demand of 630104."""
    events = [
        event(
            "assignment.made",
            {"demand_code": CODE, "assignee_type": "staff", "assignee_id": "s1"},
            at=t0 + timedelta(hours=1),
            jurisdiction="630000",
            producer="dispatch",
        ),
        event("demand.accepted", accepted_payload(demand_code=CODE), at=t0),
        event(
            "demand.accepted",
            accepted_payload(demand_code="630104-2026-000001"),
            at=t0,
            jurisdiction="630104",
        ),
    ]
    archive(events)
    return events


def window(t0, **more):
    return {"from": t0 - timedelta(days=1), "to": t0 + timedelta(days=1), "limit": 100, **more}


def test_a_trace_is_the_demands_events_oldest_first_with_their_place(uow, life):
    events = trace(uow, actor("staff", "630102"), CODE)
    assert [e["event_type"] for e in events] == ["demand.accepted", "assignment.made"]
    assert {k: v for k, v in events[0].items() if k != "archive"} == life[1].to_dict()
    assert set(events[0]["archive"]) == {"seq", "hash", "archived_at"}


def test_a_demand_belongs_where_it_was_accepted():
    rows = [
        SimpleNamespace(jurisdiction="630000", event_type="assignment.made"),
        SimpleNamespace(jurisdiction="630102", event_type="demand.accepted"),
    ]
    assert home_of(rows) == "630102"
    assert home_of(rows[:1]) == "630000"  # no acceptance archived: its first event's
    assert home_of([]) is None


def test_a_demand_of_another_subtree_or_none_is_not_found(uow, life):
    for who, code in ((actor("district", "630104"), CODE), (actor("admin"), "nothing")):
        with pytest.raises(NotFound) as missing:
            trace(uow, who, code)
        assert status_of(missing.value) == 404
        assert (
            missing.value.message == f"No archived events for demand {code} in your jurisdiction."
        )


def test_search_pages_newest_first_within_the_subtree(uow, life, t0):
    mine = search(uow, actor("district", "630102"), window(t0))
    assert [e["event_type"] for e in mine["items"]] == ["demand.accepted"]  # not 630000's
    assert mine["next_cursor"] is None
    province = actor("admin", "630000")
    first = search(uow, province, window(t0, limit=2))
    assert len(first["items"]) == 2 and first["next_cursor"]
    rest = search(uow, province, window(t0, limit=2, cursor=first["next_cursor"]))
    assert len(rest["items"]) == 1 and rest["next_cursor"] is None
    seqs = [e["archive"]["seq"] for e in first["items"] + rest["items"]]
    assert seqs == sorted(seqs, reverse=True) and len(set(seqs)) == 3
    typed = search(uow, province, window(t0, type="assignment.made", staff="s1"))
    assert [e["producer"] for e in typed["items"]] == ["dispatch"]


@pytest.mark.parametrize(
    "args, message, fields",
    [
        (
            {},
            "Give a time range (from, to) of at most a year; for more use "
            "GET /archive/api/v1/export.",
            {"query": {"from": ["required"], "to": ["required"]}},
        ),
        (
            {"swap": True},
            "The range ends after it starts.",
            {"query": {"to": ["not after from"]}},
        ),
        (
            {"days": 367},
            "A range over 366 days is too wide for a synchronous query: use the streaming "
            "export GET /archive/api/v1/export.",
            {"query": {"to": ["range too wide"]}},
        ),
    ],
)
def test_a_search_needs_a_range_of_at_most_a_year(uow, t0, args, message, fields):
    query = {"limit": 10}
    if "swap" in args:
        query |= {"from": t0, "to": t0}
    if "days" in args:
        query |= {"from": t0 - timedelta(days=args["days"]), "to": t0}
    with pytest.raises(Invalid) as refused:
        search(uow, actor(), query)
    assert (refused.value.message, refused.value.fields) == (message, fields)


def test_a_jurisdiction_outside_the_actors_subtree_is_forbidden(uow, t0):
    with pytest.raises(Forbidden) as refused:
        search(uow, actor("district", "630102"), window(t0, jurisdiction="630104"))
    assert refused.value.message == "630104 is outside your jurisdiction."
    assert refused.value.fields == {"query": {"jurisdiction": ["outside your jurisdiction"]}}
    assert matching(None, {"jurisdiction": "630104"}) is not None  # the operator sees all


PARK, SIBLING = "630102-P0001", "630102-P0002"


def test_a_parks_demand_is_traced_and_found_by_the_park_and_above_not_beside(
    uow, archive, event, t0
):
    code = f"{PARK}-W0001-2026-000001"  # filed at the park's work station
    sibling_code = f"{SIBLING}-2026-000001"
    archive(
        [
            event("demand.accepted", accepted_payload(demand_code=code), at=t0,
                  jurisdiction=f"{PARK}-W0001"),
            event("assignment.made", {"demand_code": code, "assignee_id": "dc-office"},
                  at=t0 + timedelta(hours=1), jurisdiction=f"{PARK}-W0001", producer="dispatch"),
            event("demand.accepted", accepted_payload(demand_code=sibling_code), at=t0,
                  jurisdiction=SIBLING),
        ]
    )  # fmt: skip
    for where in (PARK, "630102", "630100"):
        assert [e["event_type"] for e in trace(uow, actor("staff", where), code)] == [
            "demand.accepted",
            "assignment.made",
        ]
    with pytest.raises(NotFound):
        trace(uow, actor("staff", SIBLING), code)

    def found(who, **filters):
        day = timedelta(days=1)
        window = {"from": (t0 - day).isoformat(), "to": (t0 + day).isoformat()}
        args = SearchArgs().load({**window, **filters})  # as the view reads the query
        args["from"] = args.pop("from_")
        items = search(uow, actor("staff", who), args)["items"]
        return {e["payload"]["demand_code"] for e in items}

    assert found(PARK) == {code} == found("630102", jurisdiction=PARK)
    assert found("630102") == {code, sibling_code}
    assert found(SIBLING) == {sibling_code}
    assert found("630102", demand=code) == {code}
    with pytest.raises(Forbidden):
        found(SIBLING, jurisdiction=PARK)
