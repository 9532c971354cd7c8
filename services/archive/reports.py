"""Reports and dossiers read from the archive: the demand analysis report (XN 需求分析报告),
the weekly progress and monthly summary (QCY 周推进、月总结), and the service dossier
(XN 服务档案: contact list, demand list, service ledger, assessment records).

Each use case reads the subtree's events for the period (scoped to the actor) and hands
them to a pure core: ``services.archive.analysis`` and ``services.archive.dossier``. The
renderings (XLSX, HTML) are in ``services.archive.renderings``.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from services.archive.analysis import analyse, progress_of, progress_title
from services.archive.dossier import dossier_of
from services.archive.exports import export_rows
from shared.auth import Principal
from shared.db import UnitOfWork
from shared.periods import Period, period_arg
from shared.usecases import Forbidden

REPORT_PERIODS = ("day", "week", "month", "quarter")


@dataclass(frozen=True)
class Span:
    """A report's period and its bounds as instants (China-time midnights, in UTC)."""

    period: Period
    start: datetime
    end: datetime


def span_of(text: str) -> Span:
    """The period a report covers (``YYYY-MM-DD``, ``YYYY-Www``, ``YYYY-MM`` or
    ``YYYY-Qn``; Invalid else)."""
    period = period_arg(text, REPORT_PERIODS)
    return Span(period, *period.instants())


def report_events(
    uow: UnitOfWork, actor: Principal, jurisdiction: str, span: Span
) -> Iterator[dict[str, Any]]:
    """The subtree's events up to the period's end (earlier ones give each demand its
    state), oldest first, streamed. Scoped when called (Forbidden), not when first read."""
    if not actor.can_see(jurisdiction):
        raise Forbidden(f"{jurisdiction} is outside your jurisdiction.")
    rows = export_rows(uow, actor, {"jurisdiction": jurisdiction, "to": span.end})
    return (json.loads(r.body) for r in rows)


def heading(title: str, jurisdiction: str, span: Span) -> dict[str, Any]:
    """What every report starts with: its title, subtree and period."""
    return {
        "title": title,
        "jurisdiction": jurisdiction,
        "period": span.period.label,
        "from": span.period.start,
        "to": span.period.end,
    }


def _now(span: Span, now: datetime | None) -> datetime:
    """The instant a report is as of: now, or the period's end once it is over."""
    return min(now or datetime.now(UTC), span.end)


def demand_analysis(
    uow: UnitOfWork, actor: Principal, command: dict[str, Any], *, now: datetime | None = None
) -> dict[str, Any]:
    """Demands accepted in the period: by category, source, jurisdiction and status now;
    closure and on-time rates; the overdue list; satisfaction; recurring themes.
    ``command``: ``jurisdiction`` and ``period``."""
    jurisdiction, span = command["jurisdiction"], span_of(command["period"])
    events = report_events(uow, actor, jurisdiction, span)
    body = analyse(events, span.start, _now(span, now))
    return {**heading("需求分析报告", jurisdiction, span), **body}


def progress(
    uow: UnitOfWork, actor: Principal, command: dict[str, Any], *, now: datetime | None = None
) -> dict[str, Any]:
    """Weekly progress or monthly summary (QCY): what happened in the period, by kind,
    with the period's demand analysis (one pass over the events)."""
    jurisdiction, span = command["jurisdiction"], span_of(command["period"])
    events = report_events(uow, actor, jurisdiction, span)
    body = progress_of(events, span.start, _now(span, now))
    return {**heading(progress_title(span.period.kind), jurisdiction, span), **body}


def dossier(uow: UnitOfWork, actor: Principal, command: dict[str, Any]) -> dict[str, Any]:
    """服务档案: the four parts — contact list, demand list, service ledger, assessment
    records — as the archive has them for the period."""
    jurisdiction, span = command["jurisdiction"], span_of(command["period"])
    events = report_events(uow, actor, jurisdiction, span)
    body = dossier_of(events, span.start, span.period.start, span.period.end)
    return {**heading("服务档案", jurisdiction, span), **body}
