"""Archive's consumer: every event of every producer. ``python -m services.archive.worker``."""

from __future__ import annotations

from services.archive import PRODUCERS, build, handlers
from shared.contracts.operations import ACCESS_REFUSED, DEAD_LETTER_REDRIVEN
from shared.messaging import Subscription
from shared.runtime import Service
from shared.worker import run_worker

# A record is traced a fifth of a second later at most; a steady flow is appended in
# batches (shared.worker.run_worker).
LINGER = 0.2


def subscriptions(svc: Service) -> list[Subscription]:
    # the archive's own operational events (its dead letters re-driven, its refusals) too
    own = [("archive", f"{DEAD_LETTER_REDRIVEN}.#"), ("archive", f"{ACCESS_REFUSED}.#")]
    bindings = [*((p, "#") for p in PRODUCERS), *own]
    return [svc.directory_copy(), svc.subscription("all_events", bindings, handlers.on_any_event)]


if __name__ == "__main__":
    run_worker(build(), subscriptions, linger=LINGER)
