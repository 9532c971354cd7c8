"""The platform's consumer topology in one place: every service's subscriptions, and
the RabbitMQ definitions document made from them (``onestop topology``)."""

from __future__ import annotations

import importlib
from typing import Any

from shared.config import SERVICES, Settings
from shared.messaging import (
    DLX,
    Subscription,
    connect,
    dead_letter_queue,
    declare_topology,
    exchange_for,
    quorum_arguments,
)


def platform_subscriptions(settings: Settings) -> list[Subscription]:
    """Every consumer queue of every service, with its bindings."""
    subs: list[Subscription] = []
    for name in SERVICES:
        svc = importlib.import_module(f"services.{name}").build(settings)
        subs += importlib.import_module(f"services.{name}.worker").subscriptions(svc)
    return subs


def definitions(subs: list[Subscription], vhost: str = "/") -> dict[str, Any]:
    """A RabbitMQ definitions document declaring the exchanges, queues (quorum queues,
    with their dead-letter arguments and ``.dlq`` twins) and bindings of ``subs``."""

    def exchange(name: str, kind: str) -> dict[str, Any]:
        return {
            "name": name,
            "vhost": vhost,
            "type": kind,
            "durable": True,
            "auto_delete": False,
            "internal": False,
            "arguments": {},
        }

    def queue(name: str, arguments: dict[str, Any]) -> dict[str, Any]:
        return {
            "name": name,
            "vhost": vhost,
            "durable": True,
            "auto_delete": False,
            "arguments": arguments,
        }

    def binding(source: str, destination: str, key: str) -> dict[str, Any]:
        return {
            "source": source,
            "vhost": vhost,
            "destination": destination,
            "destination_type": "queue",
            "routing_key": key,
            "arguments": {},
        }

    return {
        "vhosts": [{"name": vhost, "metadata": {"description": "onestop", "tags": []}}],
        "permissions": [],
        "parameters": [],
        "global_parameters": [],
        "policies": [],
        "queues": [
            q
            for s in subs
            for q in (
                queue(s.queue, s.queue_arguments()),
                queue(f"{s.queue}.dlq", quorum_arguments()),
            )
        ],
        # one topic exchange per service (each publishes on its own), and the DLX
        "exchanges": [exchange(f"onestop.{name}", "topic") for name in SERVICES]
        + [exchange(DLX.name, "direct")],
        "bindings": [
            b
            for s in subs
            for b in (
                *(binding(f"onestop.{p}", s.queue, k) for p, k in s.bindings),
                binding(DLX.name, f"{s.queue}.dlq", s.queue),
            )
        ],
    }


def declare_broker_topology(settings: Settings) -> dict[str, int]:
    """Declare every consumer queue and binding, so that events published before a
    worker first starts are queued, not dropped (idempotent). On RabbitMQ a queue the
    broker holds otherwise — a classic queue from before quorum queues, every agency's
    queue among them — is migrated with its messages (``onestop.queues``): run it with
    the workers stopped. The queues migrated, with the messages each kept."""
    subs = platform_subscriptions(settings)
    with connect(settings.broker_url) as conn:
        if settings.broker_url.startswith("memory://"):
            declare_topology(conn.default_channel, subs)
            return {}
        from onestop.queues import ensure
        from services.dispatch.broker import agency_queue
        from services.dispatch.broker import queue_name as agency_queue_name

        ch = conn.default_channel
        DLX(ch).declare()
        for name in SERVICES:
            exchange_for(name)(ch).declare()
        wanted = [q for s in subs for q in (s.kombu_queue(), dead_letter_queue(s.queue))]
        wanted += [
            q
            for agency_id in agency_ids(settings)
            for q in (agency_queue(agency_id), dead_letter_queue(agency_queue_name(agency_id)))
        ]
        migrated = {}
        for queue in wanted:
            moved = ensure(conn, queue)
            if moved is not None:
                migrated[queue.name] = moved
        return migrated


def agency_ids(settings: Settings) -> list[str]:
    """Every member agency (each has a queue of its own), from dispatch's records (none
    while dispatch's database has no schema yet: ``onestop migrate --service`` another)."""
    from sqlalchemy import inspect

    from services import dispatch
    from services.dispatch.models import agencies

    svc = dispatch.build(settings)
    try:
        if not inspect(svc.db.engine).has_table(agencies.name):
            return []
        with svc.db.session() as s:
            return list(s.execute(agencies.select().with_only_columns(agencies.c.id)).scalars())
    finally:
        svc.db.dispose()
