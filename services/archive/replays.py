"""Replay: archived events re-published to one consumer queue, marked as replays.

The use case takes what it needs besides the archive as keyword arguments: the platform's
consumer queues with their bindings (``known_queues``) and a way to open a publisher
(``broker``), opened only once the request has been checked and scoped.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any, Protocol

from services.archive.exports import export_rows
from services.archive.metrics import REPLAYED
from shared.auth import Principal
from shared.config import Settings
from shared.db import UnitOfWork
from shared.events import jurisdiction_path
from shared.messaging import consumer_queues, topic_matches
from shared.usecases import Invalid

log = logging.getLogger(__name__)

Bindings = Sequence[tuple[str, str]]  # (producer, binding key) pairs of one queue


class QueuePublisher(Protocol):
    def publish_to_queue(self, queue: str, body: str | bytes, headers: dict[str, Any]) -> None: ...

    def close(self) -> None: ...


def known_queues(settings: Settings) -> dict[str, list[tuple[str, str]]]:
    """Every consumer queue of the platform and its bindings (the replay targets), from
    the platform's topology document (``onestop topology`` writes it; a test keeps it
    current) — the archive imports no other service to learn them."""
    return consumer_queues(json.loads(settings.topology_file.read_text(encoding="utf-8")))


def broker(settings: Settings) -> Callable[[], QueuePublisher]:
    """Opens a publisher to the platform's broker when called."""
    from shared.messaging import KombuPublisher

    return lambda: KombuPublisher(settings.broker_url)


def routing_key_of(envelope: dict[str, Any]) -> str:
    """The key the event was published with: its type, then its jurisdiction path."""
    return ".".join([envelope["event_type"], *jurisdiction_path(envelope["jurisdiction"])])


def routed(envelope: dict[str, Any], bindings: Iterable[tuple[str, str]]) -> bool:
    """Whether the queue's bindings would have routed the event to it."""
    key = routing_key_of(envelope)
    return any(p == envelope["producer"] and topic_matches(k, key) for p, k in bindings)


def replay(
    uow: UnitOfWork,
    actor: Principal | None,
    command: dict[str, Any],
    *,
    queues: Mapping[str, Bindings],
    connect: Callable[[], QueuePublisher],
) -> dict[str, Any]:
    """Re-publish archived events (filtered) to one consumer queue, oldest first, each
    marked ``replay: true``; the consumer's inbox recognises those it already applied.
    Only the events the queue's bindings would have routed to it are sent. ``actor``
    None is the platform operator (the CLI)."""
    queue = command["queue"]
    if queue not in queues:
        raise Invalid(
            f"Unknown consumer queue {queue!r}.",
            fields={"json": {"queue": [f"one of {', '.join(sorted(queues))}"]}},
        )
    bindings = queues[queue]
    if not bindings:
        raise Invalid(
            f"Queue {queue!r} has no bindings: no event is ever routed to it.",
            fields={"json": {"queue": ["a queue bound to the events to replay"]}},
        )
    args = {
        "jurisdiction": command.get("jurisdiction"),
        "from": command.get("from"),
        "to": command.get("to"),
    }
    types = set(command.get("types") or [])
    rows = export_rows(uow, actor, args)  # scoped (Forbidden) before the broker is touched
    publisher = connect()
    sent = skipped = 0
    try:
        for chunk in rows:
            envelope = json.loads(chunk.body)
            if types and envelope["event_type"] not in types:
                continue
            if not routed(envelope, bindings):
                skipped += 1
                continue
            _publish(publisher, queue, envelope)
            sent += 1
    finally:
        publisher.close()
    REPLAYED.labels(queue).inc(sent)
    log.info("replayed %d events to %s (%d not routed there)", sent, queue, skipped)
    return {"queue": queue, "sent": sent, "not_routed": skipped}


def _publish(publisher: QueuePublisher, queue: str, envelope: dict[str, Any]) -> None:
    envelope["replay"] = True
    publisher.publish_to_queue(
        queue,
        json.dumps(envelope, ensure_ascii=False),
        {
            "event_id": envelope["event_id"],
            "event_type": envelope["event_type"],
            "x-onestop-replay": True,
        },
    )


def not_routed_reason(result: dict[str, Any], bindings: Bindings) -> str | None:
    """Why a replay that selected events sent none of them (their routing keys match none
    of the queue's bindings), or None when it sent some or selected none."""
    if result["sent"] or not result["not_routed"]:
        return None
    bound = "; ".join(f"{producer}: {key}" for producer, key in bindings)
    return (
        f"none of the {result['not_routed']} archived events selected would have been routed"
        f" to {result['queue']!r} (its bindings: {bound}): nothing was sent. Choose the"
        " queue that consumes them, or narrow the selection with --type."
    )


def embedded_refusal(queue: str) -> str:
    """Why the command line cannot replay to a queue no service consumes in the embedded
    shape, and what can."""
    return (
        f"cannot replay to {queue!r} from this command: the embedded shape's broker"
        " (memory://) lives inside the `onestop run` process, so no queue named"
        f" {queue!r} exists here and what this command published would reach no consumer."
        " Replay through the running platform instead:"
        f' POST /archive/api/v1/replay {{"queue": "{queue}"}} on its address'
        " (http://127.0.0.1:8080 by default) with an admin key, or run this command against"
        " the stack's broker (ONESTOP_BROKER_URL=amqp://…)."
    )
