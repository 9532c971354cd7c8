"""The archive's use cases run against a fake unit of work (a throwaway SQLite file with
the archive's tables); events are appended as the worker appends them, through the inbox."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from services.archive.handlers import on_any_event
from services.archive.models import metadata
from shared.events import Event
from shared.outbox import Inbox
from tests.factories import accepted_payload
from tests.fakes import FakeUnitOfWork

CONSUMER = "archive.all_events"
T0 = datetime(2026, 11, 2, 2, 0, tzinfo=UTC)  # Monday 10:00 in China, week 2026-W45


def archived_event(
    event_type: str,
    payload: dict[str, Any],
    *,
    at: datetime = T0,
    jurisdiction: str = "630102",
    producer: str = "intake",
) -> Event:
    """An event as the archive receives it, at a chosen time; its payload is taken as
    given (no schema check). ``.to_dict()`` is its envelope, as the archive stores it."""
    return Event(
        event_type=event_type,
        event_version=1,
        producer=producer,
        jurisdiction=jurisdiction,
        payload=payload,
        correlation_id="c-archive",
        occurred_at=at,
    )


@pytest.fixture
def event() -> Callable[..., Event]:
    """``event(type, payload, at=..., jurisdiction=..., producer=...)``: an event to archive."""
    return archived_event


@pytest.fixture
def t0() -> datetime:
    """The test events' clock: Monday 2 November 2026, 10:00 in China (week 2026-W45)."""
    return T0


@pytest.fixture
def uow(tmp_path: Any) -> FakeUnitOfWork:
    return FakeUnitOfWork(metadata, tmp_path / "archive.db")


@pytest.fixture
def archive(uow: FakeUnitOfWork) -> Callable[[Iterable[Event]], list[bool]]:
    """Append events to the chain as the worker does (once each, through the inbox)."""
    inbox = Inbox(metadata.tables["processed_events"])

    def append(events: Iterable[Event]) -> list[bool]:
        return [inbox.apply(lambda: uow, CONSUMER, e, on_any_event) for e in events]

    return append


@pytest.fixture
def ten_demands(archive: Any) -> list[Event]:
    """Ten demands accepted in 630102, an hour apart from ``T0``, archived."""
    events = []
    for i in range(1, 11):
        at = T0 + timedelta(hours=i)
        payload = accepted_payload(demand_code=f"630102-2026-{i:06d}", accepted_at=at.isoformat())
        events.append(archived_event("demand.accepted", payload, at=at))
    assert all(archive(events))
    return events
