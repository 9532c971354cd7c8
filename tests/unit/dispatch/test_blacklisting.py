"""The enterprise blacklist (第二十一条) as a use case over a fake unit of work."""

from sqlalchemy import select

from services.dispatch.blacklisting import blacklist_enterprise
from services.dispatch.models import blacklist
from tests.factories import accepted_payload
from tests.fakes import actor

CITY = actor("admin", "630100")
CREDIT = accepted_payload()["enterprise"]["credit_code"]
BODY = {"city": "630100", "reason": "refused_payment", "note": "目标达成后拒付"}


def test_an_enterprise_is_listed_once_per_city_and_announced(uow, refusal):
    row = blacklist_enterprise(uow, CITY, CREDIT, BODY, correlation_id="c")
    assert (row["city"], row["credit_code"], row["actor"]) == ("630100", CREDIT, "k-admin")
    [listed] = uow.committed
    assert (
        listed.event_type == "enterprise.blacklisted"
        and listed.payload["reason"] == "refused_payment"
    )
    status, e = refusal(lambda: blacklist_enterprise(uow, CITY, CREDIT, BODY, correlation_id="c"))
    assert (status, e.message) == (409, f"{CREDIT} is already on 630100's blacklist.")
    with uow.read() as s:
        assert len(s.execute(select(blacklist)).all()) == 1


def test_the_order_named_must_be_the_enterprises_in_that_city(alliance, accept, orders_of, refusal):
    [order] = orders_of(accept())
    other = {**BODY, "assignment_id": order["id"]}
    status, e = refusal(
        lambda: blacklist_enterprise(
            alliance, CITY, "91630102MA0000E2X2", other, correlation_id="c"
        )
    )
    assert status == 422 and e.fields == {
        "json": {"assignment_id": ["no such order of this enterprise"]}
    }
    assert (
        blacklist_enterprise(alliance, CITY, CREDIT, other, correlation_id="c")["assignment_id"]
        == order["id"]
    )


def test_a_county_cannot_list_for_its_city(uow, refusal):
    status, _ = refusal(
        lambda: blacklist_enterprise(
            uow, actor("district", "630102"), CREDIT, BODY, correlation_id="c"
        )
    )
    assert status == 403
