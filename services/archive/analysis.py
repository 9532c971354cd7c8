"""The demand analysis (XN 需求分析报告) and the weekly progress / monthly summary (QCY
周推进、月总结), computed from archived envelopes.

Pure Python: envelopes in (oldest first, as the archive streams them), the report's body
out — no database, no clock (the caller says what "now" is).
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

# words too common to be a theme of demands
STOP = {
    *("需要", "需求", "企业", "公司", "有限", "问题", "进行", "相关"),
    *("提供", "服务", "希望", "申请", "改进", "提升", "工艺", "技术"),
}
WORD = re.compile(r"[\u4e00-\u9fff]{2,}|[A-Za-z]{3,}")
SETTLED = ("closed", "rejected")  # no longer waiting: never overdue
OVERDUE_FIELDS = ("code", "category", "jurisdiction", "status", "expected_at", "enterprise")
PROGRESS_TITLES = {"day": "日调度", "week": "周推进", "month": "月总结"}


@dataclass
class Demand:
    """One demand accepted in the period, in the state its later events left it."""

    code: str
    category: str
    source: str
    jurisdiction: str
    title: str
    service_item: str | None
    enterprise: str
    status: str = "accepted"
    expected_at: str | None = None
    on_time: bool | None = None
    rating: int | None = None

    @classmethod
    def accepted(cls, envelope: dict[str, Any]) -> Demand:
        p = envelope["payload"]
        return cls(
            code=p["demand_code"],
            category=p["category"],
            source=p["source"],
            jurisdiction=envelope["jurisdiction"],
            title=p.get("title", ""),
            service_item=p.get("service_item"),
            enterprise=p["enterprise"]["name"],
            expected_at=p.get("expected_at"),
        )

    def apply(self, event_type: str, payload: dict[str, Any]) -> None:
        """A later event of this demand: a status change, a screening, a revisit."""
        if event_type == "demand.status_changed":
            self.status = payload["to_status"]
            if self.status == "closed":
                self.on_time = payload.get("on_time")
        elif event_type == "demand.screened":
            self.expected_at = payload["expected_at"]
        elif event_type == "demand.revisited":
            self.rating = payload["rating"]

    def is_overdue(self, now: datetime) -> bool:
        """Still open, and its expected time has passed."""
        if self.status in SETTLED or not self.expected_at:
            return False
        return datetime.fromisoformat(self.expected_at) < now

    def overdue_line(self) -> dict[str, Any]:
        return {k: getattr(self, k) for k in OVERDUE_FIELDS}


def demands_of(events: Iterable[dict[str, Any]], since: datetime) -> list[Demand]:
    """The demands accepted at or after ``since``, in order of acceptance, each with what
    its later events said (earlier events of other demands are read and passed over)."""
    demands: dict[str, Demand] = {}
    for e in events:
        p = e["payload"]
        if (
            e["event_type"] == "demand.accepted"
            and datetime.fromisoformat(e["occurred_at"]) >= since
        ):
            demands[p["demand_code"]] = Demand.accepted(e)
        d = demands.get(p.get("demand_code", ""))
        if d is not None:
            d.apply(e["event_type"], p)
    return list(demands.values())


def mean(values: list[Any], digits: int) -> float | None:
    """The rounded mean, None for no values."""
    return round(sum(values) / len(values), digits) if values else None


def terms(title: str) -> Iterator[str]:
    """The candidate theme terms of a title: Chinese has no spaces, so every 2–4
    character run of each word (stop words left out)."""
    for w in WORD.findall(title):
        for n in (2, 3, 4):
            for i in range(len(w) - n + 1):
                term = w[i : i + n]
                if term not in STOP:
                    yield term


def themes(titles: Iterable[str], top: int = 10) -> list[dict[str, Any]]:
    """The terms occurring at least twice across the titles, most frequent first (the
    first ``top`` of the 40 most frequent)."""
    words = Counter(term for title in titles for term in terms(title))
    return [{"term": t, "demands": n} for t, n in words.most_common(40) if n >= 2][:top]


def breakdown(demands: list[Demand]) -> dict[str, dict[str, int]]:
    """How many demands by category, source, jurisdiction, status and service item."""
    return {
        "by_category": dict(Counter(d.category for d in demands)),
        "by_source": dict(Counter(d.source for d in demands)),
        "by_jurisdiction": dict(Counter(d.jurisdiction for d in demands)),
        "by_status": dict(Counter(d.status for d in demands)),
        "by_service_item": dict(Counter(d.service_item for d in demands if d.service_item)),
    }


def rates(demands: list[Demand]) -> dict[str, float | None]:
    """Closed of those not rejected; on time of those closed saying so; the mean rating
    of those revisited (None where nothing is counted)."""
    return {
        "closure_rate": mean([d.status == "closed" for d in demands if d.status != "rejected"], 4),
        "on_time_rate": mean(
            [d.on_time for d in demands if d.status == "closed" and d.on_time is not None], 4
        ),
        "satisfaction": mean([d.rating for d in demands if d.rating is not None], 2),
    }


def analyse(events: Iterable[dict[str, Any]], since: datetime, now: datetime) -> dict[str, Any]:
    """Demands accepted since ``since``: by category, source, jurisdiction and status now;
    closure and on-time rates; the overdue list (as of ``now``); satisfaction; recurring
    themes."""
    demands = demands_of(events, since)
    return {
        "demands": len(demands),
        **breakdown(demands),
        **rates(demands),
        "overdue": [d.overdue_line() for d in demands if d.is_overdue(now)],
        "recurring_themes": themes(d.title for d in demands),
    }


@dataclass
class Tally:
    """What happened since ``since``, by event type, and the status changes by target."""

    since: datetime
    events: Counter[str] = field(default_factory=Counter)
    transitions: Counter[str] = field(default_factory=Counter)

    def counted(self, events: Iterable[dict[str, Any]]) -> Iterator[dict[str, Any]]:
        """``events`` passed through, counted on the way (one pass serves two reports)."""
        for e in events:
            if datetime.fromisoformat(e["occurred_at"]) >= self.since:
                self.events[e["event_type"]] += 1
                if e["event_type"] == "demand.status_changed":
                    self.transitions[e["payload"]["to_status"]] += 1
            yield e


def progress_title(kind: str) -> str:
    """日调度 for a day, 周推进 for a week, 月总结 for a month, 季度小结 for a quarter."""
    return PROGRESS_TITLES.get(kind, "季度小结")


def progress_of(events: Iterable[dict[str, Any]], since: datetime, now: datetime) -> dict[str, Any]:
    """What happened since ``since``, by kind, with the period's demand analysis (one
    pass over the events)."""
    tally = Tally(since)
    analysis = analyse(tally.counted(events), since, now)
    return {
        "demands_accepted": tally.events["demand.accepted"],
        "transitions": dict(tally.transitions),
        "assignments": tally.events["assignment.made"],
        "visits": tally.events["visit.logged"],
        "overdue": len(analysis["overdue"]),
        "closure_rate": analysis["closure_rate"],
        "events": dict(tally.events),
    }
