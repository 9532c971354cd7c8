"""The platform's consumer topology in one place: every service's subscriptions, and
the RabbitMQ definitions document made from them (``onestop topology``)."""

from __future__ import annotations

import importlib
from typing import Any

from shared.config import SERVICES, Settings
from shared.messaging import DLX, Subscription, connect, declare_topology


def platform_subscriptions(settings: Settings) -> list[Subscription]:
    """Every consumer queue of every service, with its bindings."""
    subs: list[Subscription] = []
    for name in SERVICES:
        svc = importlib.import_module(f"services.{name}").build(settings)
        subs += importlib.import_module(f"services.{name}.worker").subscriptions(svc)
    return subs


def definitions(subs: list[Subscription], vhost: str = "/") -> dict[str, Any]:
    """A RabbitMQ definitions document declaring the exchanges, queues (with their
    dead-letter arguments and ``.dlq`` twins) and bindings of ``subs``."""

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
            for q in (queue(s.queue, s.queue_arguments()), queue(f"{s.queue}.dlq", {}))
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


def declare_broker_topology(settings: Settings) -> None:
    """Declare every consumer queue and binding, so that events published before a
    worker first starts are queued, not dropped (idempotent)."""
    with connect(settings.broker_url) as conn:
        declare_topology(conn.default_channel, platform_subscriptions(settings))
