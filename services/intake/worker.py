"""Intake's consumers and callback deliveries: ``python -m services.intake.worker``."""

from __future__ import annotations

from services.intake import accepting, build, delivery, loop
from shared.contracts.dispatch import ASSIGNMENT_MADE, DEADLINE, PROGRESS_REPORTED
from shared.contracts.visits import VISIT_LOGGED
from shared.messaging import Subscription
from shared.runtime import Service
from shared.worker import run_worker

# A demand shows its owner (and its callbacks go out) a tenth of a second after dispatch
# decided at most; a steady flow is applied in batches (shared.worker.run_worker).
LINGER = 0.1


def subscriptions(svc: Service) -> list[Subscription]:
    return [
        svc.directory_copy(),
        svc.on("dispatch", ASSIGNMENT_MADE, loop.on_assignment_made),
        svc.on("dispatch", PROGRESS_REPORTED, loop.on_progress_reported),
        svc.on("dispatch", DEADLINE, loop.on_deadline),
        svc.on("visits", VISIT_LOGGED, accepting.on_visit_logged),
    ]


def on_start(svc: Service) -> None:
    """Before consuming: deadlines computed past the published calendar, again."""
    loop.recompute_provisional(svc.uow())


def periodic(svc: Service) -> None:
    """The intake worker's periodic job, every ``ONESTOP_CALLBACK_INTERVAL`` seconds (not
    the workers' common interval): deliver the callbacks that are due."""
    delivery.run(svc)


# its own interval (shared.worker.interval_of)
periodic.every = delivery.every  # type: ignore[attr-defined]


if __name__ == "__main__":
    run_worker(build(), subscriptions, on_start, periodic, linger=LINGER)
