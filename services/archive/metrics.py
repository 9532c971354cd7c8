"""Archive's metrics."""

from __future__ import annotations

from typing import TYPE_CHECKING

from prometheus_client import Counter, Gauge

from shared.metrics import belong

if TYPE_CHECKING:
    from shared.runtime import Service

ARCHIVED = Counter(
    "onestop_archive_events_total",
    "Events archived, by producer and type",
    ["producer", "event_type"],
)
CHAIN_LENGTH = Gauge(
    "onestop_archive_chain_length", "Records in the hash chain", multiprocess_mode="livemax"
)
VERIFY_OK = Gauge(
    "onestop_archive_last_verify_ok",
    "1 when the last verify found the chain intact, 0 when it found a mismatch",
    multiprocess_mode="livemax",
)
VERIFY_TIME = Gauge(
    "onestop_archive_last_verify_timestamp_seconds",
    "When the last verify ran (Unix time)",
    multiprocess_mode="livemax",
)
REPLAYED = Counter("onestop_archive_replayed_total", "Events re-published by replay", ["queue"])
belong("archive", ARCHIVED, CHAIN_LENGTH, VERIFY_OK, VERIFY_TIME, REPLAYED)


def refresh(svc: Service) -> None:
    """The chain's length from its head (at scrape time)."""
    from sqlalchemy import select

    from services.archive.models import chain_head

    with svc.db.reading() as s:
        length = s.execute(select(chain_head.c.length).where(chain_head.c.id == 1)).scalar()
    CHAIN_LENGTH.set(length or 0)
