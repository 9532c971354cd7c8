"""Visits' consumers and periodic job: ``python -m services.visits.worker``."""

from __future__ import annotations

from services.visits import build, compliance, handlers, plans
from shared.contracts.dispatch import (
    ASSIGNMENT_MADE,
    DEPARTMENT_UPDATED,
    RESPONSIBILITY_LINKED,
    STAFF_UPDATED,
)
from shared.contracts.intake import DEMAND_ACCEPTED, ENTERPRISE_REGISTERED, ENTERPRISE_UPDATED
from shared.messaging import Subscription
from shared.runtime import Service
from shared.timezone import china_today
from shared.worker import run_worker

# Who must visit whom follows an assignment a fifth of a second later at most; a steady
# flow is applied in batches (shared.worker.run_worker).
LINGER = 0.2


def subscriptions(svc: Service) -> list[Subscription]:
    return [
        svc.directory_copy(),
        svc.on("dispatch", ASSIGNMENT_MADE, handlers.on_assignment_made, handlers.prepare_links),
        svc.on("dispatch", DEPARTMENT_UPDATED, handlers.on_department),
        svc.on("dispatch", STAFF_UPDATED, handlers.on_staff),
        svc.on("dispatch", RESPONSIBILITY_LINKED, handlers.on_responsibility_linked),
        svc.on("intake", DEMAND_ACCEPTED, handlers.on_demand_accepted),
        svc.subscription(
            "on_enterprise",
            [("intake", f"{ENTERPRISE_REGISTERED}.#"), ("intake", f"{ENTERPRISE_UPDATED}.#")],
            handlers.on_enterprise,
        ),
    ]


def run(svc: Service) -> None:
    """The visits worker's periodic job: plans not done by their day are missed, and
    subjects short in a period that closed are announced."""
    today = china_today()
    plans.miss_overdue_plans(svc.uow(), today)
    compliance.flag_overdue(svc.uow(), today)


periodic = run


if __name__ == "__main__":
    run_worker(build(), subscriptions, periodic=periodic, linger=LINGER)
