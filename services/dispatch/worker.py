"""Dispatch's consumers: ``python -m services.dispatch.worker``."""

from __future__ import annotations

from services.dispatch import build, handlers
from shared.contracts.intake import DEMAND_ACCEPTED
from shared.messaging import Subscription
from shared.runtime import Service
from shared.worker import run_worker


def subscriptions(svc: Service) -> list[Subscription]:
    return [svc.on("intake", DEMAND_ACCEPTED, handlers.on_demand_accepted)]


if __name__ == "__main__":
    run_worker(build(), subscriptions)
