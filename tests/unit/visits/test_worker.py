"""Visits' worker: its subscriptions and its periodic job."""

from datetime import timedelta

from sqlalchemy import update

from services.visits.models import plans
from services.visits.plans import create_plan
from services.visits.worker import periodic
from shared.timezone import china_today
from tests.factories import VisitsWorld
from tests.fakes import actor


class Service:
    """What the periodic job uses of the service: a unit of work."""

    def __init__(self, uow):
        self._uow = uow

    def uow(self):
        return self._uow


def test_the_periodic_job_misses_overdue_plans_and_flags_shortfalls(uow):
    planned = create_plan(
        uow,
        actor("admin", "630000"),
        {"staff_id": "s-1", "enterprises": [VisitsWorld.E1], "planned_on": china_today(),
         "kind": "follow_up"},
    )  # fmt: skip
    with uow:
        uow.session.execute(
            update(plans)
            .where(plans.c.id == planned["id"])
            .values(planned_on=china_today() - timedelta(days=1))
        )
        uow.commit()
    periodic(Service(uow))
    missed = [e for e in uow.committed if e.payload.get("to_status") == "missed"]
    assert [e.payload["plan_id"] for e in missed] == [planned["id"]]
    # nobody visited anyone: both departments were short last week, at least
    flagged = {e.payload["subject_id"] for e in uow.committed if e.event_type == "visit.overdue"}
    assert {"cd-kjj", "hd-kjj"} <= flagged
    periodic(Service(uow))  # the next run announces nothing again
    assert len([e for e in uow.committed if e.event_type == "visit.overdue"]) == len(flagged)
