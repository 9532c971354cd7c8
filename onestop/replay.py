"""Replay in the embedded shape: the consuming subscription applied in this process.

The embedded shape's broker (``memory://``) lives inside the ``onestop run`` process, so
``onestop archive replay`` cannot reach its queues. It hands each replayed event to the
queue's subscription here instead — the same handler, through the same inbox, as the worker
(``onestop rebuild`` does the same) — so an event already applied is a duplicate, and what
the handler emits stays in the service's outbox for the platform's relay to publish (this
process's relay is stopped: publishing into a broker that dies with it would lose them).
"""

from __future__ import annotations

import importlib
import json
from typing import Any

from shared.config import Settings
from shared.events import parse_event
from shared.messaging import Subscription


class NoConsumerHere(LookupError):
    pass


class Delivery:
    """A ``replays.QueuePublisher`` that applies each event to one subscription."""

    def __init__(self, sub: Subscription) -> None:
        self.sub = sub
        self.applied = 0
        self.duplicates = 0

    def publish_to_queue(self, queue: str, body: str | bytes, headers: dict[str, Any]) -> None:
        assert queue == self.sub.queue
        if self.sub.apply(parse_event(json.loads(body))):
            self.applied += 1
        else:
            self.duplicates += 1

    def close(self) -> None:
        pass


def delivery(settings: Settings, queue: str) -> Delivery:
    """The in-process delivery to ``queue``'s subscription (its service is named by the
    queue's first part); ``NoConsumerHere`` when no service of this platform consumes it."""
    from shared.config import SERVICES

    name = queue.split(".", 1)[0]
    if name not in SERVICES:
        raise NoConsumerHere(f"no service of this platform consumes {queue!r}")
    svc = importlib.import_module(f"services.{name}").build(settings)
    svc.relay.stop()  # emitted events wait in the outbox for `onestop run`'s relay
    subs = importlib.import_module(f"services.{name}.worker").subscriptions(svc)
    found = [s for s in subs if s.queue == queue]
    if not found:
        raise NoConsumerHere(f"{name} has no consumer queue {queue!r}")
    return Delivery(found[0])
