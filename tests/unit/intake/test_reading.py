"""Reading demands: one by code (a 404 outside the subtree), the ledger a page at a
time, and a stored demand as the API shows it."""

from __future__ import annotations

from datetime import UTC, datetime
from types import SimpleNamespace

import pytest
from marshmallow import ValidationError

from services.intake.accepting import AcceptDemand, accept_demand
from services.intake.reading import as_demand, demand_filters, get_demand, list_demands
from services.intake.schemas import DemandIn, DemandListArgs
from shared.errors import status_of
from shared.usecases import Forbidden, Invalid, NotFound
from tests.factories import DEMO_DEMAND
from tests.fakes import actor

ARGS = {"limit": 50}


def stored(**over):
    """A stored demand row, as the query returns it."""
    row = {
        "code": "630102-2026-000001",
        "jurisdiction": "630102",
        "enterprise_credit_code": "91630102MA7522T5X6",
        "enterprise_name": "青海高原新材料科技有限公司",
        "category": "technology",
        "service_item": None,
        "contact_name": None,
        "contact_phone": None,
        "contact_email": None,
        "address": None,
        "address_id": None,
        "lat": None,
        "long": None,
        "media_url": None,
        "attachments": "[]",
        "ordered_agency": None,
        "title": "t",
        "description": "d",
        "source": "online",
        "consent_to_share": False,
        "status": "accepted",
        "owner_type": None,
        "owner_id": None,
        "owner_name": None,
        "accepted_at": datetime(2026, 11, 25, 8, tzinfo=UTC),
        "received_at": None,
        "respond_by": None,
        "responded_at": None,
        "escalated_at": None,
        "escalated_to": None,
        "correlation_id": "c",
        "complexity": "general",
        "urgency": None,
        "feasibility": None,
        "expected_at": None,
        "deadline_provisional": False,
        "closed_at": None,
        "resolution": None,
        "satisfaction_rating": None,
        "satisfaction_comment": None,
    }
    return SimpleNamespace(**(row | over))


def test_a_demand_shows_contact_location_owner_and_rating_only_when_it_has_them():
    bare = as_demand(stored())
    assert bare["contact"] is None and bare["location"] is None and bare["owner"] is None
    assert bare["satisfaction"] is None and bare["service_notice"] is None
    assert bare["received_at"] == bare["accepted_at"]  # received as accepted
    earlier = datetime(2026, 11, 20, 9, tzinfo=UTC)
    assert as_demand(stored(received_at=earlier))["received_at"] == earlier
    full = as_demand(
        stored(
            contact_phone="0971-1234567",
            lat=0.0,
            long=101.8,
            owner_id="cd-kjj",
            owner_type="department",
            owner_name="城东区科学技术局",
            satisfaction_rating=5,
            satisfaction_comment="满意",
            expected_at=datetime(2026, 12, 2, 10, tzinfo=UTC),
        )
    )
    assert full["contact"] == {"name": None, "phone": "0971-1234567", "email": None}
    assert full["location"] == {"address": None, "address_id": None, "lat": 0.0, "long": 101.8}
    assert full["owner"] == {"type": "department", "id": "cd-kjj", "name": "城东区科学技术局"}
    assert full["satisfaction"] == {"rating": 5, "comment": "满意"}
    assert "630102-2026-000001" in full["service_notice"]


def test_filters_become_conditions_in_order():
    now = datetime.now(UTC)
    assert demand_filters({"limit": 5}, now) == []
    args = {"category": "talent", "enterprise": "x", "accepted_from": now, "overdue": True}
    assert len(demand_filters(args, now)) == 4
    conditions = demand_filters({"closed_to": now, "status": "closed"}, now)
    assert [c.left.name for c in conditions] == ["status", "closed_at"]


def test_a_demand_is_read_by_its_code_within_the_subtree(uow, accept):
    code = accept()["code"]
    assert get_demand(uow, actor("district", "630100"), code)["code"] == code
    for who, asked in ((actor("district", "630103"), code), (actor("district"), "nope")):
        with pytest.raises(NotFound) as missing:
            get_demand(uow, who, asked)
        assert status_of(missing.value) == 404
        assert missing.value.message == f"No demand {asked} in your jurisdiction."


def test_the_ledger_pages_newest_first_and_filters(uow, accept):
    codes = [accept(title=f"第{i}个")["code"] for i in range(5)]
    accept(category="talent")
    city = actor("district", "630100")
    first = list_demands(uow, city, ARGS | {"limit": 4, "category": "technology"})
    assert [d["code"] for d in first["items"]] == codes[::-1][:4]
    rest = list_demands(
        uow, city, ARGS | {"limit": 4, "category": "technology", "cursor": first["next_cursor"]}
    )
    assert [d["code"] for d in rest["items"]] == codes[:1] and rest["next_cursor"] is None
    assert len(list_demands(uow, city, ARGS | {"jurisdiction": "630103"})["items"]) == 0
    assert len(list_demands(uow, city, ARGS | {"overdue": False})["items"]) == 6


def test_the_ledger_refuses_another_subtree_and_a_forged_cursor(uow):
    with pytest.raises(Forbidden):
        list_demands(uow, actor("district"), ARGS | {"jurisdiction": "630103"})
    with pytest.raises(Invalid) as bad:
        list_demands(uow, actor("district"), ARGS | {"cursor": "xyz"})
    assert bad.value.fields == {"query": {"cursor": ["not a cursor this list gave out"]}}


def test_a_park_reads_its_own_demands_its_county_sees_them_a_sibling_park_does_not(park_uow):
    park, sibling = actor("district", "630102-P0001"), actor("district", "630102-P0002")
    county = actor("district", "630102")

    def file(by, credit_code, **over):
        enterprise = {"credit_code": credit_code, "name": f"企业 {credit_code}"}
        data = DemandIn().load({**DEMO_DEMAND, "enterprise": enterprise, **over})
        return accept_demand(park_uow, by, AcceptDemand(data), correlation_id="c")["code"]

    in_park = file(park, "91630102MA00PK001U")
    in_station = file(park, "91630102MA00WK001J", jurisdiction="630102-P0001-W0001")
    in_sibling = file(sibling, "91630102MA00PK002Y")
    in_county = file(county, "91630102MA7522T5X6")

    def listed(who, **args):
        query = DemandListArgs().load({k: str(v) for k, v in (ARGS | args).items()})
        return {d["code"] for d in list_demands(park_uow, who, query)["items"]}

    assert get_demand(park_uow, park, in_station)["jurisdiction"] == "630102-P0001-W0001"
    assert get_demand(park_uow, county, in_park)["code"] == in_park
    for code in (in_park, in_station):
        with pytest.raises(NotFound):
            get_demand(park_uow, sibling, code)
    with pytest.raises(NotFound):
        get_demand(park_uow, park, in_county)  # above the park: not its to read
    assert listed(park) == {in_park, in_station}
    assert listed(sibling) == {in_sibling}
    assert listed(county) == {in_park, in_station, in_sibling, in_county}
    assert listed(county, jurisdiction="630102-P0001") == {in_park, in_station}
    assert listed(actor("district", "630100"), jurisdiction="630102-P0001-W0001") == {in_station}
    with pytest.raises(Forbidden):
        listed(park, jurisdiction="630102")
    with pytest.raises(Forbidden):
        listed(actor("district", "630103"), jurisdiction="630102-P0001")


def test_a_workbench_lists_the_open_demands_of_its_owners(uow, accept):
    """``owner`` (any of several ids: a person's own and their department's) and ``open``."""
    from sqlalchemy import update

    from services.intake.models import demands

    mine, departments, others, done = (accept(title=t)["code"] for t in ("甲", "乙", "丙", "丁"))
    with uow:
        for code, owner, status in (
            (mine, "staff-005", "in_progress"),
            (departments, "dept-kjk", "accepted"),
            (others, "staff-009", "accepted"),
            (done, "staff-005", "closed"),
        ):
            uow.session.execute(
                update(demands).where(demands.c.code == code).values(owner_id=owner, status=status)
            )
        uow.commit()
    city = actor("district", "630100")
    args = ARGS | {"owner": ["staff-005", "dept-kjk"]}
    listed = list_demands(uow, city, args | {"open": True})
    assert {d["code"] for d in listed["items"]} == {mine, departments}
    ended = list_demands(uow, city, args | {"open": False})
    assert [d["code"] for d in ended["items"]] == [done]
    assert len(list_demands(uow, city, args)["items"]) == 3
    loaded = DemandListArgs().load({"owner": ["staff-005"], "open": "true"})
    assert loaded["owner"] == ["staff-005"] and loaded["open"] is True
    with pytest.raises(ValidationError) as bad:
        DemandListArgs().load({"owner": [""]})
    assert "owner" in bad.value.messages


def test_a_workbench_lists_the_soonest_deadline_first_a_page_at_a_time(uow, accept):
    from datetime import timedelta

    from sqlalchemy import update

    from services.intake.models import demands

    now = datetime.now(UTC)
    codes = [accept(title=f"第{i}个")["code"] for i in range(4)]
    due = {codes[0]: now + timedelta(days=3), codes[1]: now - timedelta(days=1)}
    due |= {codes[2]: now + timedelta(hours=2), codes[3]: None}  # none: not listed by deadline
    with uow:
        for code, at in due.items():
            uow.session.execute(
                update(demands).where(demands.c.code == code).values(expected_at=at)
            )
        uow.commit()
    city = actor("district", "630100")
    first = list_demands(uow, city, ARGS | {"order": "deadline", "limit": 2})
    assert [d["code"] for d in first["items"]] == [codes[1], codes[2]]
    rest = list_demands(
        uow, city, ARGS | {"order": "deadline", "limit": 2, "cursor": first["next_cursor"]}
    )
    assert [d["code"] for d in rest["items"]] == [codes[0]] and rest["next_cursor"] is None
    newest = list_demands(uow, city, ARGS | {"limit": 10})  # the default order: every demand
    assert [d["code"] for d in newest["items"]] == codes[::-1]
