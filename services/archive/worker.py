"""Archive's consumer: every event of every producer. ``python -m services.archive.worker``."""

from __future__ import annotations

from services.archive import PRODUCERS, build, handlers
from shared.contracts.operations import DEAD_LETTER_REDRIVEN
from shared.messaging import Subscription
from shared.runtime import Service
from shared.worker import run_worker


def subscriptions(svc: Service) -> list[Subscription]:
    # the archive's own operational events (its dead letters re-driven) are kept too
    bindings = [*((p, "#") for p in PRODUCERS), ("archive", f"{DEAD_LETTER_REDRIVEN}.#")]
    return [svc.directory_copy(), svc.subscription("all_events", bindings, handlers.on_any_event)]


if __name__ == "__main__":
    run_worker(build(), subscriptions)
