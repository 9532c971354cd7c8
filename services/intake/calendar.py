"""Working days on the Chinese calendar, and the promised time limits.

Pure Python (the ``chinese-calendar`` package is data: the State Council's
holidays and make-up workdays). That data ends with the last year published;
a deadline that runs past it is still computed on weekends only and flagged
*provisional*, to be recomputed when the data arrives — never an error.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from functools import lru_cache
from typing import Any

import chinese_calendar

from shared.timezone import CHINA

START_OF_WORKING_DAY = time(9, 0)
END_OF_WORKING_DAY = time(18, 0)
WORKING_DAY = timedelta(hours=9)  # office hours 09:00–18:00 China time (our default)
# XN 服务实施 / SX 限时闭环 / QCY 即日办: simple = the same working day; general and
# complex are our defaults (DOMAIN.md), configurable per jurisdiction.
DEFAULT_TIME_LIMITS: dict[str, int] = {"simple": 0, "general": 5, "complex": 20}
# The first response (首次响应: the owner screens the demand or moves it on) is due
# within these working hours of receipt — XN "及时响应企业需求", QCY 即日办 name no
# figure: half a working day is our default, configurable per jurisdiction (1–72).
DEFAULT_RESPONSE_HOURS = 4


@dataclass(frozen=True)
class Deadline:
    due: datetime
    working_days: int
    provisional: bool


@dataclass(frozen=True)
class WorkingCalendar:
    """The national calendar plus a jurisdiction's own closure days."""

    closures: frozenset[date] = field(default_factory=frozenset)

    @classmethod
    def with_closures(cls, days: Iterable[date]) -> WorkingCalendar:
        return cls(frozenset(days))

    def is_workday(self, day: date) -> tuple[bool, bool]:
        """(is it a working day, is that answer provisional)."""
        if day in self.closures:
            return False, False
        try:
            return bool(chinese_calendar.is_workday(day)), False
        except NotImplementedError:  # the year's calendar is not published (yet)
            return day.weekday() < 5, True

    def deadline(self, start: datetime, working_days: int) -> Deadline:
        """End of the ``working_days``-th working day after ``start`` (China time).

        With 0 the deadline is the end of the same working day (即日办). A demand that
        arrives on a day off, or after the working day's end (18:00) on a working day,
        counts from the next working morning — so a simple demand received at 19:00 is due
        the next working day at 18:00, never overdue the moment it is accepted.
        """
        if working_days < 0:
            raise ValueError("a time limit cannot be negative")
        local = start.astimezone(CHINA)
        day = local.date()
        if local.time() >= END_OF_WORKING_DAY:  # after hours: from the next day's morning
            day += timedelta(days=1)
        day, provisional = self._due_day(day, working_days)
        return Deadline(datetime.combine(day, END_OF_WORKING_DAY, CHINA), working_days, provisional)

    def after_working_hours(self, start: datetime, hours: int) -> Deadline:
        """The instant ``hours`` office hours (09:00–18:00 of working days, China time)
        after ``start``: received before 09:00 counts from 09:00, after 18:00 or on a
        day off from the next working morning. ``working_days`` of the answer is 0."""
        if hours < 0:
            raise ValueError("a time limit cannot be negative")
        local = start.astimezone(CHINA)
        day, at = local.date(), local.time().replace(tzinfo=None)
        if at >= END_OF_WORKING_DAY:
            day, at = day + timedelta(days=1), START_OF_WORKING_DAY
        at = max(at, START_OF_WORKING_DAY)
        left = timedelta(hours=hours)
        provisional = False
        while True:
            works, unsure = self._due_day(day, 0)  # this day if it works, else the next
            provisional |= unsure
            if works != day:  # a day off: from the next working morning
                day, at = works, START_OF_WORKING_DAY
            today = datetime.combine(day, END_OF_WORKING_DAY) - datetime.combine(day, at)
            if left <= today:
                return Deadline(datetime.combine(day, at, CHINA) + left, 0, provisional)
            left -= today
            day, at = day + timedelta(days=1), START_OF_WORKING_DAY

    @lru_cache(maxsize=4096)  # noqa: B019 - calendars are values, kept while they are used
    def _due_day(self, day: date, working_days: int) -> tuple[date, bool]:
        """The day a time limit counted from ``day`` ends, and whether that is provisional
        (the same for every demand of a day: worked out once)."""
        provisional = False
        work, unsure = self.is_workday(day)
        provisional |= unsure
        while not work:
            day += timedelta(days=1)
            work, unsure = self.is_workday(day)
            provisional |= unsure
        counted = 0
        while counted < working_days:
            day += timedelta(days=1)
            work, unsure = self.is_workday(day)
            provisional |= unsure
            counted += work
        return day, provisional


def service_notice(code: str, complexity: str, deadline: Deadline) -> str:
    """The promise made to the enterprise when its demand is accepted."""
    kind = {"simple": "简单需求（即日办结）", "general": "一般需求", "complex": "复杂需求"}[
        complexity
    ]
    due = deadline.due.astimezone(CHINA).strftime("%Y年%m月%d日 %H:%M")
    notice = f"您的需求已受理，统一编码 {code}，按{kind}办理，承诺于 {due} 前办结并反馈。"
    if deadline.provisional:
        notice += "（当年节假日安排尚未公布，期限为暂定，公布后重新计算。）"
    return notice


def service_notice_of(row: Any) -> str | None:
    """The promise stated to the enterprise, from a stored demand (None before it has
    a deadline)."""
    if row.expected_at is None:
        return None
    deadline = Deadline(row.expected_at, 0, bool(row.deadline_provisional))
    return service_notice(row.code, row.complexity, deadline)
