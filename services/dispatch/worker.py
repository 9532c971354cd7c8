"""Dispatch's consumers and periodic sweep: ``python -m services.dispatch.worker``."""

from __future__ import annotations

from services.dispatch import broker, build, cohandling, consumers, standing, sweep
from services.dispatch.models import agencies
from shared.contracts.intake import (
    DEMAND_ACCEPTED,
    DEMAND_CONSENT_CHANGED,
    DEMAND_SCREENED,
    DEMAND_STATUS_CHANGED,
    ENTERPRISE_REGISTERED,
    ENTERPRISE_UPDATED,
)
from shared.messaging import Subscription, connect
from shared.runtime import Service
from shared.worker import run_worker


def subscriptions(svc: Service) -> list[Subscription]:
    return [
        svc.directory_copy(),
        svc.on("intake", DEMAND_ACCEPTED, consumers.on_demand_accepted, consumers.prepare_owners),
        svc.on("intake", DEMAND_SCREENED, consumers.on_demand_screened),
        svc.on("intake", DEMAND_STATUS_CHANGED, consumers.on_demand_status_changed),
        svc.on("intake", DEMAND_CONSENT_CHANGED, consumers.on_demand_consent_changed),
        svc.subscription(
            "on_enterprise",
            [("intake", f"{ENTERPRISE_REGISTERED}.#"), ("intake", f"{ENTERPRISE_UPDATED}.#")],
            consumers.on_enterprise,
        ),
    ]


def on_start(svc: Service) -> None:
    """Every member agency's queue exists before anything is dispatched to it; every
    enterprise known before standing links existed gets its link."""
    standing.link_unlinked(svc.uow)
    with svc.db.reading() as s:
        ids = list(s.execute(agencies.select().with_only_columns(agencies.c.id)).scalars())
    with connect(svc.settings.broker_url) as conn:
        broker.declare_agency_queues(conn.default_channel, ids)


def periodic(svc: Service) -> None:
    """The deadline sweep and month close, then the overdue co-tasks."""
    sweep.run(svc)
    cohandling.sweep_overdue(svc.uow())


if __name__ == "__main__":
    run_worker(build(), subscriptions, on_start, periodic)
