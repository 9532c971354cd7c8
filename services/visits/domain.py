"""Visit rules: the enterprises each responsible unit must visit.

Pure Python: no Flask, SQLAlchemy or kombu.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace
from datetime import date, datetime

import chinese_calendar

from shared import periods
from shared.periods import Period as Period
from shared.periods import period_of as period_of
from shared.periods import previous_period as previous_period
from shared.usecases import Invalid


@dataclass(frozen=True)
class EnterpriseLink:
    """A unit (department or staff) responsible for visiting an enterprise (包保)."""

    enterprise_credit_code: str
    unit_type: str
    unit_id: str
    unit_name: str
    jurisdiction: str
    since: datetime
    last_demand_code: str | None  # None: a standing link no demand has used yet
    demand_count: int = 1
    standing: bool = False  # the enterprise's standing 包保 link names this unit
    basis: str | None = None  # how that link was made (rule:<segment>, explicit)


def link_owner(existing: EnterpriseLink | None, new: EnterpriseLink) -> EnterpriseLink:
    """Fold one more owner assignment into the enterprise–unit link.

    The link keeps its first date (the unit has been responsible since then) and
    counts the demands that made the unit responsible; a standing link (``standing``)
    stays one.
    """
    if existing is None:
        return new
    if (existing.enterprise_credit_code, existing.unit_type, existing.unit_id) != (
        new.enterprise_credit_code,
        new.unit_type,
        new.unit_id,
    ):
        raise ValueError("links of different enterprise/unit pairs cannot be merged")
    return replace(
        existing,
        since=min(existing.since, new.since),
        last_demand_code=new.last_demand_code
        if existing.last_demand_code is None or new.since >= existing.since
        else existing.last_demand_code,
        demand_count=existing.demand_count + new.demand_count,
        unit_name=new.unit_name,
    )


# --- periods: shared.periods (weeks, months, quarters in China time) -----------------

VISIT_PERIODS = ("day", "week", "month", "quarter")


def parse_period(text: str) -> Period:
    """``2026-12-01`` (a day), ``2026-W48`` (ISO week), ``2026-11`` or ``2026-Q4``;
    ``ValueError`` otherwise. No visit rule counts days: a day's compliance has no items."""
    return periods.parse_period(text, VISIT_PERIODS)


def period_arg(text: str) -> Period:
    """``parse_period`` for a query parameter: ``Invalid`` naming ``period`` otherwise."""
    try:
        return parse_period(text)
    except ValueError as exc:
        raise Invalid.field("period", str(exc), where="query") from None


# --- working days (the duty rule counts them) -------------------------------------------


def is_working_day(day: date) -> bool:
    """The State Council calendar (make-up workdays included) where it is published;
    Monday to Friday beyond it."""
    try:
        return bool(chinese_calendar.is_workday(day))
    except NotImplementedError:
        return day.weekday() < 5


def required_duty_days(days_per_five: int, period: Period) -> int:
    """CX 第十一条: on duty at least 2 working days per week, "按连续5个工作日计" — so a
    week with fewer working days (a holiday week) asks for its share, rounded up."""
    working = sum(1 for d in period.days() if is_working_day(d))
    return min(days_per_five, math.ceil(days_per_five * working / 5))


# --- the frequency rules (data; these are the seeds' defaults) --------------------------

RULE_KINDS: dict[str, tuple[str, str, str]] = {
    # rule → (subject, period kind, source)
    "department_weekly": ("department", "week", "XN 服务进企: 每个包保责任部室每周至少走访1家企业"),
    "team_city_monthly": ("team", "month", "SX 服务专班: 每月至少赴联系城市1次"),
    "team_key_quarterly": (
        "team_key_enterprise",
        "quarter",
        "SX: 每季度至少走访每家联系重点企业1次",
    ),
    "leader_quarterly": ("leader", "quarter", "XM 挂钩联系: 部门领导每季度至少走访挂钩企业1次"),
    "station_duty": ("station_staff", "week", "CX 第十一条: 驻点人员每周在岗不少于2个工作日"),
}


@dataclass(frozen=True)
class FrequencyRules:
    department_weekly: int = 1
    team_city_monthly: int = 1
    team_key_quarterly: int = 1
    team_min_key_enterprises: int = 10
    leader_quarterly: int = 1
    station_duty_days_per_five: int = 2

    def problems(self) -> dict[str, str]:
        return {
            name: "must not be negative"
            for name in self.__dataclass_fields__
            if getattr(self, name) < 0
        } | (
            {"station_duty_days_per_five": "at most 5 working days out of 5"}
            if self.station_duty_days_per_five > 5
            else {}
        )

    def as_dict(self) -> dict[str, int]:
        return {f: getattr(self, f) for f in self.__dataclass_fields__}


def status_of(required: int, done: int, period: Period, today: date) -> str:
    if done >= required:
        return "met"
    return "short" if period.closed_on(today) else "open"


def plan_step(action: str, status: str) -> str:
    """planned → done / missed / cancelled; anything else is ``ValueError``."""
    allowed = {"done": "done", "missed": "missed", "cancel": "cancelled"}
    if status != "planned":
        raise ValueError(f"the plan is {status}: only a planned visit can be {allowed[action]}")
    return allowed[action]
