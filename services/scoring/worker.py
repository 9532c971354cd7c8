"""Scoring's consumers: ``python -m services.scoring.worker``."""

from __future__ import annotations

from services.scoring import build, handlers
from shared.contracts.dispatch import ASSIGNMENT_MADE
from shared.contracts.visits import VISIT_LOGGED
from shared.messaging import Subscription
from shared.runtime import Service
from shared.worker import run_worker


def subscriptions(svc: Service) -> list[Subscription]:
    return [
        svc.on("dispatch", ASSIGNMENT_MADE, handlers.on_assignment_made),
        svc.on("visits", VISIT_LOGGED, handlers.on_visit_logged),
    ]


if __name__ == "__main__":
    run_worker(build(), subscriptions)
