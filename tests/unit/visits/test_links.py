"""Which unit visits which enterprise, read in the actor's subtree."""

from datetime import UTC, datetime

from sqlalchemy import insert

from services.visits.links import list_links
from services.visits.models import enterprise_links
from tests.factories import VisitsWorld
from tests.fakes import actor

E1, E3 = VisitsWorld.E1, VisitsWorld.E3


def test_links_are_listed_newest_first_in_the_subtree_and_filtered(uow):
    with uow:
        uow.session.execute(
            insert(enterprise_links).values(
                enterprise_credit_code=E3,
                unit_type="department",
                unit_id="hd-kjj",
                unit_name="乐都区科学技术局",
                jurisdiction="630202",
                since=datetime(2026, 3, 1, tzinfo=UTC),
                last_demand_code="630202-2026-000001",
                demand_count=1,
            )
        )
        uow.commit()
    province = actor("admin", "630000")

    def found(who=province, **args):
        items = list_links(uow, who, {"limit": 10, **args})
        return [(i["enterprise_credit_code"], i["unit_id"]) for i in items]

    assert found() == [(E3, "hd-kjj"), (E1, "cd-kjj")]
    assert found(actor("district", "630100")) == [(E1, "cd-kjj")]
    assert found(enterprise=E1) == [(E1, "cd-kjj")]
    assert found(unit_id="hd-kjj") == [(E3, "hd-kjj")]
    assert found(limit=1) == [(E3, "hd-kjj")]
