"""Accepting a demand: where it is filed (pure), what is stored and announced (a fake
unit of work), and the demands raised on a visit."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from sqlalchemy import event, select

from services.intake.accepting import (
    AcceptDemand,
    Filing,
    accept_demand,
    accepted_payload,
    demand_values,
    filing_of,
    on_visit_logged,
    raised_demand,
    received_on_visit,
    store_demand,
    take_number,
)
from services.intake.calendar import Deadline
from services.intake.domain import Demand
from services.intake.models import demand_sequences, demand_updates, demands, enterprises
from services.intake.registry import seed_enterprises
from services.intake.schemas import DemandIn
from shared.errors import status_of
from shared.events import Event
from shared.usecases import Forbidden, Invalid
from tests.factories import DEMO_DEMAND
from tests.fakes import FakeDirectory, actor

CODE = DEMO_DEMAND["enterprise"]["credit_code"]
YEAR = datetime.now(UTC).year  # demand codes carry the year they were accepted in


def fields(**over):
    return DemandIn().load({**DEMO_DEMAND, **over})


def command(**over):
    return AcceptDemand(fields(**over))


# -- where a demand is filed (pure: the directory is in memory) ---------------------
def test_a_new_enterprise_files_where_the_key_is_unless_told_otherwise():
    directory = FakeDirectory()
    assert filing_of(directory, actor("district", "630102"), fields(), None) == "630102"
    city = actor("district", "630100")
    assert filing_of(directory, city, fields(jurisdiction="630103"), None) == "630103"


def test_a_known_enterprise_files_where_it_is_registered_or_above():
    directory, city = FakeDirectory(), actor("district", "630100")
    assert filing_of(directory, city, fields(), "630102") == "630102"
    assert filing_of(directory, city, fields(jurisdiction="630100"), "630102") == "630100"
    with pytest.raises(Invalid) as refused:
        filing_of(directory, city, fields(jurisdiction="630103"), "630102")
    assert status_of(refused.value) == 422
    assert "registered in 630102" in refused.value.fields["json"]["jurisdiction"][0]


def test_an_enterprise_outside_the_key_is_forbidden_and_an_unknown_needs_its_name():
    directory = FakeDirectory()
    with pytest.raises(Forbidden) as outside:
        filing_of(directory, actor("district", "630102"), fields(), "630103")
    assert outside.value.message == (
        f"Enterprise {CODE} is registered in 630103, outside your jurisdiction."
    )
    assert outside.value.fields == {
        "json": {"enterprise": {"credit_code": ["registered outside your jurisdiction"]}}
    }
    nameless = fields(enterprise={"credit_code": CODE})
    with pytest.raises(Invalid) as unknown:
        filing_of(directory, actor("district", "630102"), nameless, None)
    assert unknown.value.fields == {
        "json": {"enterprise": {"name": ["unknown enterprise: send its name to register it"]}}
    }
    with pytest.raises(Invalid):  # not a division the directory knows
        filing_of(directory, actor("district", "630100"), fields(jurisdiction="630199"), None)


# -- what is stored (pure) ----------------------------------------------------------
def _demand(**over):
    at = datetime(2026, 11, 25, 8, tzinfo=UTC)
    base = {
        "code": "630102-2026-000001",
        "jurisdiction": "630102",
        "enterprise_credit_code": CODE,
        "enterprise_name": "青海高原新材料科技有限公司",
        "category": "technology",
        "title": "t",
        "description": "d",
        "source": "online",
        "consent_to_share": False,
        "accepted_at": at,
        "accepted_by": "k-district",
    }
    return Demand(**(base | over))


DEADLINE = Deadline(datetime(2026, 12, 2, 10, tzinfo=UTC), 5, False)


def test_the_row_keeps_contact_location_and_the_promise():
    data = fields(
        contact={"name": "张工", "phone": "0971-1234567"},
        location={"address": "八一路 1 号", "lat": 36.6, "long": 101.8},
        attachments=["https://files.example/a.pdf"],
    )
    values = demand_values(_demand(), data, DEADLINE, "c-1")
    assert values["contact_name"] == "张工" and values["contact_email"] is None
    assert (values["address"], values["lat"], values["long"]) == ("八一路 1 号", 36.6, 101.8)
    assert values["attachments"] == '["https://files.example/a.pdf"]'
    assert values["expected_at"] == DEADLINE.due and values["deadline_provisional"] is False
    assert values["status"] == "accepted" and values["correlation_id"] == "c-1"


def test_the_payload_names_the_agency_category_the_contact_and_the_visit():
    plain = accepted_payload(_demand(), fields(), DEADLINE)
    assert plain["complexity"] == "general" and plain["expected_at"] == DEADLINE.due.isoformat()
    assert not {"service_item", "contact", "visit_id", "ordered_agency"} & set(plain)
    data = fields(service_item="process_improvement", contact={"name": "张工"})
    full = accepted_payload(_demand(), data | {"visit_id": "v-1"}, DEADLINE)
    assert (full["service_item"], full["agency_category"]) == ("process_improvement", "rd")
    assert full["contact"] == {"name": "张工"} and full["visit_id"] == "v-1"


def test_a_raised_demand_is_a_field_visit_of_general_complexity_by_default():
    raised = {"credit_code": CODE, "category": "talent", "title": "t", "description": "d"}
    data = raised_demand(raised, "青海高原", "v-9")
    assert data["source"] == "field_visit" and data["complexity"] == "general"
    assert data["enterprise"] == {"credit_code": CODE, "name": "青海高原"}
    assert data["consent_to_share"] is False and data["visit_id"] == "v-9"


# -- the use case ---------------------------------------------------------------------
def test_a_demand_of_a_new_enterprise_is_stored_registers_it_and_is_announced(uow):
    out = accept_demand(uow, actor("district"), command(), correlation_id="c-1")
    assert out["code"] == f"630102-{YEAR}-000001"
    assert out["status"] == "accepted" and out["owner"] is None and out["service_notice"]
    assert uow.types() == ["enterprise.registered", "demand.accepted"]
    registered, accepted = uow.committed
    assert registered.payload["needs_named_person"] is False
    assert accepted.payload["demand_code"] == out["code"] and accepted.correlation_id == "c-1"
    assert accepted.payload["accepted_by"] == "k-district"
    with uow.read() as s:
        row = s.execute(select(demands)).one()
        feed = s.execute(select(demand_updates)).all()
        ent = s.execute(select(enterprises)).one()
    assert (row.jurisdiction, row.status, row.correlation_id) == ("630102", "accepted", "c-1")
    assert [(u.kind, u.to_status, u.actor) for u in feed] == [
        ("transition", "accepted", "k-district")
    ]
    assert (ent.credit_code, ent.jurisdiction) == (CODE, "630102")


def test_a_known_enterprise_is_not_registered_again_and_numbers_follow(uow):
    accept_demand(uow, actor("district"), command(), correlation_id="c-1")
    second = accept_demand(uow, actor("district"), command(title="二"), correlation_id="c-2")
    assert second["code"] == f"630102-{YEAR}-000002"
    assert second["enterprise"]["name"] == DEMO_DEMAND["enterprise"]["name"]
    assert uow.types() == ["enterprise.registered", "demand.accepted", "demand.accepted"]


def test_a_refused_demand_stores_nothing_and_uses_no_number(uow):
    city = actor("district", "630100")
    accept_demand(uow, city, command(jurisdiction="630103"), correlation_id="c-1")
    with pytest.raises(Forbidden):
        accept_demand(uow, actor("district", "630102"), command(), correlation_id="c-2")
    with pytest.raises(Invalid):
        accept_demand(uow, city, command(jurisdiction="630102"), correlation_id="c-3")
    with uow.read() as s:
        assert len(s.execute(select(demands)).all()) == 1
        assert s.execute(select(demand_sequences.c.last_value)).scalar_one() == 1
    assert uow.commits == 1


def test_store_demand_files_a_known_enterprise_under_its_registered_name(uow):
    seed_enterprises(uow, [(CODE, "登记的名称", "630102")])
    now = datetime.now(UTC)
    with uow:
        values, demand = store_demand(
            uow, fields(), Filing("630102", "登记的名称"), "k-1", "c-1", now
        )
        uow.commit()
    assert demand.code == f"630102-{YEAR}-000001" and demand.enterprise_name == "登记的名称"
    assert values["accepted_by"] == "k-1"
    assert uow.types() == ["enterprise.registered", "demand.accepted"]  # the seed's, then ours


# -- the number, in the demand's own transaction ------------------------------------
def test_numbers_run_per_jurisdiction_and_year(uow):
    with uow:
        taken = [take_number(uow, "630102", 2026) for _ in range(3)]
        taken += [take_number(uow, "630103", 2026), take_number(uow, "630102", 2027)]
        uow.commit()
    assert taken == [1, 2, 3, 1, 1]


def test_a_demand_rolled_back_gives_its_number_back(uow):
    now = datetime.now(UTC)
    with uow:  # stored, then the transaction fails before its commit
        values, _ = store_demand(uow, fields(), Filing("630102", None), "k-1", "c-1", now)
        assert values["code"] == f"630102-{YEAR}-000001"
    with uow.read() as s:
        assert s.execute(select(demand_sequences)).all() == []
    out = accept_demand(uow, actor("district"), command(), correlation_id="c-2")
    assert out["code"] == f"630102-{YEAR}-000001"


def test_accepting_a_demand_is_one_transaction_and_reads_no_time_rules_it_has(uow, accept):
    accept()  # the first: registers the enterprise, reads the rules table
    statements: list[list[str]] = []
    transactions: list[object] = []

    def on_statement(_conn, _cursor, statement, *_):
        if not statement.startswith("BEGIN"):  # SQLite's BEGIN IMMEDIATE, as a statement
            statements.append(statement.split()[:3])

    def on_begin(_conn):
        transactions.append(_conn)

    engine = uow.db.engine
    event.listen(engine, "before_cursor_execute", on_statement)
    event.listen(engine, "begin", on_begin)
    try:
        accept(title="二")
    finally:
        event.remove(engine, "before_cursor_execute", on_statement)
        event.remove(engine, "begin", on_begin)
    assert len(transactions) == 1
    assert statements == [
        ["SELECT", "enterprises.name,", "enterprises.jurisdiction"],  # where it is registered
        ["INSERT", "INTO", "demand_sequences"],  # its number
        ["INSERT", "INTO", "demands"],
        ["INSERT", "INTO", "demand_updates"],
        ["INSERT", "INTO", "outbox"],
    ]


# -- raised on a visit ----------------------------------------------------------------
def visit_logged(*raised):
    payload = {"visit_id": "v-1", "logged_by": "s-1", "demands_raised": list(raised)}
    return Event("visit.logged", 1, "visits", "630102", payload, "c-visit")


def test_demands_raised_on_a_visit_enter_the_loop_where_the_enterprise_is(uow):
    seed_enterprises(uow, [(CODE, "青海高原新材料科技有限公司", "630102")])
    raised = {
        "credit_code": CODE,
        "category": "talent",
        "title": "引进人才",
        "description": "需要两名工程师",
        "complexity": "simple",
    }
    with uow:
        on_visit_logged(visit_logged(raised, raised | {"title": "第二个"}), uow)
        uow.commit()
    accepted = [e for e in uow.committed if e.event_type == "demand.accepted"]
    assert [e.payload["demand_code"] for e in accepted] == [
        f"630102-{YEAR}-000001",
        f"630102-{YEAR}-000002",
    ]
    assert {e.payload["visit_id"] for e in accepted} == {"v-1"}
    assert {e.correlation_id for e in accepted} == {"c-visit"}
    with uow.read() as s:
        rows = s.execute(select(demands.c.source, demands.c.accepted_by)).all()
    assert rows == [("field_visit", "s-1")] * 2


def test_a_demand_raised_on_a_visit_counts_from_the_visits_day(uow):
    """Visited on Monday 2026-11-23, logged later: received that day (China time), so a
    simple demand was due that day at 18:00 — logged late, it is overdue, truthfully."""
    from datetime import datetime

    from shared.timezone import CHINA

    seed_enterprises(uow, [(CODE, "青海高原新材料科技有限公司", "630102")])
    raised = {"credit_code": CODE, "category": "talent", "title": "t", "description": "d"}
    event = visit_logged(raised | {"complexity": "simple"})
    event.payload["visited_on"] = "2026-11-23"
    with uow:
        on_visit_logged(event, uow)
        uow.commit()
    [accepted] = [e for e in uow.committed if e.event_type == "demand.accepted"]
    day = datetime(2026, 11, 23, tzinfo=CHINA)
    assert datetime.fromisoformat(accepted.payload["received_at"]) == day
    assert datetime.fromisoformat(accepted.payload["expected_at"]) == day.replace(hour=18)
    assert received_on_visit(None, day) is None
    assert received_on_visit("2099-01-01", day) == day  # never later than now


def test_a_demand_raised_for_an_unknown_enterprise_is_an_error_of_the_event(uow):
    raised = {"credit_code": CODE, "category": "talent", "title": "t", "description": "d"}
    with uow, pytest.raises(LookupError, match="unknown enterprise"):
        on_visit_logged(visit_logged(raised), uow)


STATION_ENTERPRISE = {"credit_code": "91630102MA00WK001J", "name": "工作站入驻企业"}


def test_a_park_files_in_its_own_unit_and_below_with_a_code_that_carries_it(park_uow):
    park = actor("district", "630102-P0001")
    filed = accept_demand(park_uow, park, AcceptDemand(fields()), correlation_id="c")
    assert filed["code"] == f"630102-P0001-{YEAR}-000001"
    assert filed["jurisdiction"] == "630102-P0001"
    # the work station below it: its own yearly sequence, the whole path in the code
    station = accept_demand(
        park_uow,
        park,
        AcceptDemand(fields(jurisdiction="630102-P0001-W0001", enterprise=STATION_ENTERPRISE)),
        correlation_id="c",
    )
    assert station["code"] == f"630102-P0001-W0001-{YEAR}-000001"
    events = [e for e in park_uow.committed if e.event_type == "demand.accepted"]
    assert [e.routing_key for e in events] == [
        "demand.accepted.630000.630100.630102.630102-P0001",
        "demand.accepted.630000.630100.630102.630102-P0001.630102-P0001-W0001",
    ]
    with park_uow.read() as s:
        assert sorted(s.execute(select(enterprises.c.jurisdiction)).scalars()) == [
            "630102-P0001",
            "630102-P0001-W0001",
        ]
        assert sorted(s.execute(select(demand_sequences.c.jurisdiction)).scalars()) == [
            "630102-P0001",
            "630102-P0001-W0001",
        ]


def test_a_park_cannot_file_beside_or_above_itself(park_uow):
    park = actor("district", "630102-P0001")
    for where in ("630102-P0002", "630102"):
        with pytest.raises(Forbidden):
            accept_demand(
                park_uow, park, AcceptDemand(fields(jurisdiction=where)), correlation_id="c"
            )
    with pytest.raises(Invalid) as unknown:  # well formed, but no such unit
        accept_demand(
            park_uow,
            actor("district", "630102"),
            AcceptDemand(fields(jurisdiction="630102-P0009")),
            correlation_id="c",
        )
    assert unknown.value.fields == {
        "json": {"jurisdiction": ["630102-P0009 is not a known division"]}
    }
    assert park_uow.committed == []


@pytest.mark.parametrize(
    ("code", "ok"),
    [
        ("630102", True),
        ("630102001", True),
        ("630102-P0001", True),
        ("630100-S0001", True),
        ("630102-P0001-W0001", True),
        ("630102001-P0001-S0001-W0001", True),
        ("630102-X0001", False),
        ("630102-P001", False),
        ("63010", False),
        ("630102-P0001-W0001-S0001-P0001", False),
    ],
)
def test_a_demand_names_any_unit_of_the_tree(code, ok):
    errors = DemandIn().validate({**DEMO_DEMAND, "jurisdiction": code})
    assert (errors == {}) is ok, errors
    if not ok:
        assert errors == {"jurisdiction": ["not a unit code"]}
