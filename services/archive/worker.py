"""Archive's consumer: every event of every producer. ``python -m services.archive.worker``."""

from __future__ import annotations

from services.archive import PRODUCERS, build, handlers
from shared.messaging import Subscription
from shared.runtime import Service
from shared.worker import run_worker


def subscriptions(svc: Service) -> list[Subscription]:
    return [svc.subscription("all_events", [(p, "#") for p in PRODUCERS], handlers.on_any_event)]


if __name__ == "__main__":
    run_worker(build(), subscriptions)
