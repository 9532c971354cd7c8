"""Scoring's consumers: ``python -m services.scoring.worker``."""

from __future__ import annotations

from services.scoring import build, handlers
from shared.contracts.dispatch import (
    ASSIGNMENT_MADE,
    COHANDLING_REPORTED,
    DEPARTMENT_UPDATED,
    STAFF_UPDATED,
)
from shared.contracts.intake import (
    DEMAND_ACCEPTED,
    DEMAND_REVISITED,
    DEMAND_SCREENED,
    DEMAND_STATUS_CHANGED,
    ENTERPRISE_REGISTERED,
    ENTERPRISE_UPDATED,
)
from shared.contracts.scoring import RECORD_ENTERED, RECORD_RETRACTED, RULE_SET_PUBLISHED
from shared.contracts.visits import VISIT_LOGGED, VISIT_REVISED
from shared.messaging import Subscription
from shared.runtime import Service
from shared.worker import run_worker

# Scorecards are monthly tallies: a fact counts a fifth of a second later at most, and a
# steady flow is tallied in batches (shared.worker.run_worker).
LINGER = 0.2


def subscriptions(svc: Service) -> list[Subscription]:
    return [
        svc.directory_copy(),
        svc.on("dispatch", ASSIGNMENT_MADE, handlers.on_assignment_made),
        svc.on("dispatch", COHANDLING_REPORTED, handlers.on_cohandling_reported),
        svc.subscription(
            "on_visit",
            [("visits", f"{VISIT_LOGGED}.#"), ("visits", f"{VISIT_REVISED}.#")],
            handlers.on_visit_logged,
        ),
        svc.on("intake", DEMAND_ACCEPTED, handlers.on_demand_accepted),
        svc.on("intake", DEMAND_SCREENED, handlers.on_demand_screened),
        svc.on("intake", DEMAND_STATUS_CHANGED, handlers.on_demand_status_changed),
        svc.on("intake", DEMAND_REVISITED, handlers.on_demand_revisited),
        svc.subscription(
            "on_unit",
            [("dispatch", f"{DEPARTMENT_UPDATED}.#"), ("dispatch", f"{STAFF_UPDATED}.#")],
            handlers.on_unit,
        ),
        svc.subscription(
            "on_enterprise",
            [("intake", f"{ENTERPRISE_REGISTERED}.#"), ("intake", f"{ENTERPRISE_UPDATED}.#")],
            handlers.on_enterprise,
        ),
        # Its own announcements: no-ops normally; they rebuild scoring from the archive.
        svc.on("scoring", RECORD_ENTERED, handlers.on_record_entered),
        svc.on("scoring", RECORD_RETRACTED, handlers.on_record_retracted),
        svc.on("scoring", RULE_SET_PUBLISHED, handlers.on_rule_set_published),
    ]


if __name__ == "__main__":
    run_worker(build(), subscriptions, linger=LINGER)
