"""Rebuild a service's derived state from the archive: ``onestop rebuild <service>``.

A service whose every table is derived from events names them in its models
module (``REBUILT_FROM_EVENTS``). Rebuilding empties those tables and the inbox
of its consumers, then reads the archive in chain order and hands each event to
the subscriptions whose bindings match it — the same handlers, through the same
inbox, as the worker uses — so the result is what consuming the events gave.
"""

from __future__ import annotations

import importlib
import json
from typing import Any

from sqlalchemy import delete, select

from shared.config import Settings
from shared.events import parse_event
from shared.messaging import topic_matches


class NotRebuildable(ValueError):
    pass


def wipe(settings: Settings, name: str) -> tuple[Any, list[Any]]:
    """Empty a rebuildable service's derived tables and its consumers' inbox (the
    service then starts from nothing: a rebuild or a replay brings it back)."""
    service = importlib.import_module(f"services.{name}")
    models = importlib.import_module(f"services.{name}.models")
    tables: list[Any] = getattr(models, "REBUILT_FROM_EVENTS", [])
    if not tables:
        raise NotRebuildable(f"{name} keeps data that no event carries; it cannot be rebuilt")
    svc = service.build(settings)
    subs = importlib.import_module(f"services.{name}.worker").subscriptions(svc)
    inbox = svc.metadata_table("processed_events")
    with svc.db.write_session() as s:
        for table in tables:
            s.execute(delete(table))
        s.execute(delete(inbox).where(inbox.c.consumer.in_([sub.queue for sub in subs])))
        s.commit()
    return svc, subs


def rebuild(settings: Settings, name: str, batch: int = 1000) -> dict[str, int]:
    from services.archive import build as build_archive
    from services.archive.models import archived_events

    _, subs = wipe(settings, name)
    archive = build_archive(settings)
    read = applied = 0
    last = 0
    while True:
        with archive.db.session() as s:
            rows = s.execute(
                select(archived_events.c.seq, archived_events.c.body)
                .where(archived_events.c.seq > last)
                .order_by(archived_events.c.seq)
                .limit(batch)
            ).all()
        if not rows:
            break
        for row in rows:
            last = row.seq
            read += 1
            event = parse_event(json.loads(row.body))
            for sub in subs:
                if any(
                    producer == event.producer and topic_matches(key, event.routing_key)
                    for producer, key in sub.bindings
                ) and sub.apply(event):
                    applied += 1
    return {"events_read": read, "applied": applied}
