"""Directory's consumer: agencies' keys made at admission (dispatch), kept and announced.
``python -m services.directory.worker``."""

from __future__ import annotations

from services.directory import build, keys
from shared.contracts.dispatch import AGENCY_KEY_ISSUED
from shared.messaging import Subscription
from shared.runtime import Service
from shared.worker import run_worker


def subscriptions(svc: Service) -> list[Subscription]:
    return [svc.on("dispatch", AGENCY_KEY_ISSUED, keys.on_agency_key_issued)]


if __name__ == "__main__":
    run_worker(build(), subscriptions)
