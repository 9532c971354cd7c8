"""China Standard Time: the day, month and year every rule of the platform counts in."""

from __future__ import annotations

from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo

CHINA = ZoneInfo("Asia/Shanghai")


def china_today(now: datetime | None = None) -> date:
    """Today's date in China (``now`` defaults to the current time)."""
    return (now or datetime.now(UTC)).astimezone(CHINA).date()
