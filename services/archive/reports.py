"""Reports and dossiers read from the archive: the demand analysis report (XN 需求分析报告),
the weekly progress and monthly summary (QCY 周推进、月总结), and the service dossier
(XN 服务档案: contact list, demand list, service ledger, assessment records)."""

from __future__ import annotations

import io
import json
import re
from collections import Counter, defaultdict
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from html import escape
from typing import Any

from services.archive.handlers import export_rows
from shared.auth import Principal
from shared.errors import ApiError
from shared.periods import Period, period_arg
from shared.sheets import row as sheet_row
from shared.timezone import CHINA, china_today

# words too common to be a theme of demands
STOP = {
    *("需要", "需求", "企业", "公司", "有限", "问题", "进行", "相关"),
    *("提供", "服务", "希望", "申请", "改进", "提升", "工艺", "技术"),
}


REPORT_PERIODS = ("week", "month", "quarter")


@dataclass(frozen=True)
class Span:
    """A report's period and its bounds as instants (China-time midnights, in UTC)."""

    period: Period
    start: datetime
    end: datetime


def _span(text: str) -> Span:
    period = period_arg(text, REPORT_PERIODS)
    return Span(
        period,
        datetime.combine(period.start, time.min, CHINA).astimezone(UTC),
        datetime.combine(period.end + timedelta(days=1), time.min, CHINA).astimezone(UTC),
    )


def _events(
    svc: Any, principal: Principal, jurisdiction: str, span: Span
) -> Iterator[dict[str, Any]]:
    """The subtree's events up to the period's end (earlier ones give each demand its
    state), oldest first, streamed. Scoped when called (403), not when first read."""
    if not principal.can_see(jurisdiction):
        raise ApiError(403, f"{jurisdiction} is outside your jurisdiction.")
    rows = export_rows(svc, principal, {"jurisdiction": jurisdiction, "to": span.end})
    return (json.loads(r.body) for r in rows)


def _head(kind: str, jurisdiction: str, span: Span) -> dict[str, Any]:
    return {
        "title": kind,
        "jurisdiction": jurisdiction,
        "period": span.period.label,
        "from": span.period.start,
        "to": span.period.end,
    }


def demand_analysis(
    svc: Any, principal: Principal, jurisdiction: str, period: str
) -> dict[str, Any]:
    """Demands accepted in the period: by category, source, jurisdiction and status now;
    closure and on-time rates; the overdue list; satisfaction; recurring themes."""
    span = _span(period)
    return _analysis(_events(svc, principal, jurisdiction, span), jurisdiction, span)


def _analysis(events: Iterable[dict[str, Any]], jurisdiction: str, span: Span) -> dict[str, Any]:
    demands: dict[str, dict[str, Any]] = {}
    for e in events:
        p = e["payload"]
        at = datetime.fromisoformat(e["occurred_at"])
        if e["event_type"] == "demand.accepted" and at >= span.start:
            demands[p["demand_code"]] = {
                "code": p["demand_code"],
                "category": p["category"],
                "source": p["source"],
                "jurisdiction": e["jurisdiction"],
                "title": p.get("title", ""),
                "service_item": p.get("service_item"),
                "status": "accepted",
                "expected_at": p.get("expected_at"),
                "on_time": None,
                "rating": None,
                "enterprise": p["enterprise"]["name"],
            }
        d = demands.get(p.get("demand_code", ""))
        if d is None:
            continue
        if e["event_type"] == "demand.status_changed":
            d["status"] = p["to_status"]
            if p["to_status"] == "closed":
                d["on_time"] = p.get("on_time")
        elif e["event_type"] == "demand.screened":
            d["expected_at"] = p["expected_at"]
        elif e["event_type"] == "demand.revisited":
            d["rating"] = p["rating"]
    rows = list(demands.values())
    now = min(datetime.now(UTC), span.end)
    overdue = [
        {
            k: d[k]
            for k in ("code", "category", "jurisdiction", "status", "expected_at", "enterprise")
        }
        for d in rows
        if d["status"] not in ("closed", "rejected")
        and d["expected_at"]
        and datetime.fromisoformat(d["expected_at"]) < now
    ]
    closed = [d for d in rows if d["status"] == "closed"]
    handled = [d for d in rows if d["status"] != "rejected"]
    timed = [d["on_time"] for d in closed if d["on_time"] is not None]
    ratings = [d["rating"] for d in rows if d["rating"] is not None]
    words: Counter[str] = Counter()
    for d in rows:
        for w in re.findall(r"[\u4e00-\u9fff]{2,}|[A-Za-z]{3,}", d["title"]):
            for n in (2, 3, 4):  # Chinese has no spaces: count 2–4 character terms
                for i in range(len(w) - n + 1):
                    term = w[i : i + n]
                    if term not in STOP:
                        words[term] += 1
    themes = [{"term": t, "demands": n} for t, n in words.most_common(40) if n >= 2][:10]
    return {
        **_head("需求分析报告", jurisdiction, span),
        "demands": len(rows),
        "by_category": dict(Counter(d["category"] for d in rows)),
        "by_source": dict(Counter(d["source"] for d in rows)),
        "by_jurisdiction": dict(Counter(d["jurisdiction"] for d in rows)),
        "by_status": dict(Counter(d["status"] for d in rows)),
        "by_service_item": dict(Counter(d["service_item"] for d in rows if d["service_item"])),
        "closure_rate": round(len(closed) / len(handled), 4) if handled else None,
        "on_time_rate": round(sum(timed) / len(timed), 4) if timed else None,
        "satisfaction": round(sum(ratings) / len(ratings), 2) if ratings else None,
        "overdue": overdue,
        "recurring_themes": themes,
    }


def progress(svc: Any, principal: Principal, jurisdiction: str, period: str) -> dict[str, Any]:
    """Weekly progress or monthly summary (QCY): what happened in the period, by kind,
    with the period's demand analysis (one pass over the events)."""
    span = _span(period)
    counts: Counter[str] = Counter()
    statuses: Counter[str] = Counter()

    def counted(events: Iterable[dict[str, Any]]) -> Iterator[dict[str, Any]]:
        for e in events:
            if datetime.fromisoformat(e["occurred_at"]) >= span.start:
                counts[e["event_type"]] += 1
                if e["event_type"] == "demand.status_changed":
                    statuses[e["payload"]["to_status"]] += 1
            yield e

    analysis = _analysis(counted(_events(svc, principal, jurisdiction, span)), jurisdiction, span)
    title = {"week": "周推进", "month": "月总结"}.get(span.period.kind, "季度小结")
    return {
        **_head(title, jurisdiction, span),
        "demands_accepted": counts["demand.accepted"],
        "transitions": dict(statuses),
        "assignments": counts["assignment.made"],
        "visits": counts["visit.logged"],
        "overdue": len(analysis["overdue"]),
        "closure_rate": analysis["closure_rate"],
        "events": dict(counts),
    }


def dossier(svc: Any, principal: Principal, jurisdiction: str, period: str) -> dict[str, Any]:
    """服务档案: the four parts — contact list, demand list, service ledger, assessment
    records — as the archive has them for the period."""
    span = _span(period)
    start, end = span.period.start, span.period.end
    depts: dict[str, dict[str, Any]] = {}
    staff: dict[str, dict[str, Any]] = {}
    owners: dict[str, dict[str, Any]] = defaultdict(dict)
    demands: list[dict[str, Any]] = []
    ledger: list[dict[str, Any]] = []
    records: list[dict[str, Any]] = []
    for e in _events(svc, principal, jurisdiction, span):
        p, kind = e["payload"], e["event_type"]
        in_period = datetime.fromisoformat(e["occurred_at"]) >= span.start
        if kind == "department.updated":
            depts[p["id"]] = {
                "id": p["id"],
                "name": p["name"],
                "jurisdiction": p["jurisdiction"],
                "leader": p.get("leader_staff_id"),
            }
        elif kind == "staff.updated":
            staff[p["id"]] = {
                "id": p["id"],
                "name": p["name"],
                "title": p.get("title"),
                "department": p["department_id"],
            }
        elif kind == "assignment.made" and p["kind"] == "owner":
            owners[p["enterprise_credit_code"]] = {
                "enterprise": p["enterprise_credit_code"],
                "owner": p["assignee_name"],
                "owner_id": p["assignee_id"],
            }
        elif kind == "demand.accepted" and in_period:
            demands.append(
                {
                    "code": p["demand_code"],
                    "enterprise": p["enterprise"]["name"],
                    "category": p["category"],
                    "source": p["source"],
                    "accepted_at": p["accepted_at"],
                    "jurisdiction": e["jurisdiction"],
                }
            )
        elif (
            kind in ("visit.logged", "visit.revised")
            and p["visited_on"] >= start.isoformat()
            and p["visited_on"] <= end.isoformat()
        ):
            ledger = [v for v in ledger if v["visit_id"] != p["visit_id"]]
            ledger.append(
                {
                    "visit_id": p["visit_id"],
                    "visited_on": p["visited_on"],
                    "staff": p.get("staff_name"),
                    "department": p.get("department_name"),
                    "enterprises": [x["name"] for x in p["enterprises"]],
                    "kind": p["kind"],
                    "version": p["version"],
                }
            )
        elif kind == "scoring.record_entered" and in_period:
            records.append(
                {k: p[k] for k in ("id", "unit_id", "period", "kind", "value", "evidence", "at")}
            )
    return {
        **_head("服务档案", jurisdiction, span),
        "contact_list": {
            "departments": list(depts.values()),
            "staff": list(staff.values()),
            "enterprise_owners": list(owners.values()),
        },
        "demand_list": demands,
        "service_ledger": sorted(ledger, key=lambda v: (v["visited_on"], v["visit_id"])),
        "assessment_records": records,
    }


# --- renderings --------------------------------------------------------------------------


def _tables(report: dict[str, Any]) -> list[tuple[str, list[str], list[list[Any]]]]:
    """The report as named tables (for XLSX and HTML)."""
    out: list[tuple[str, list[str], list[list[Any]]]] = []
    scalars = [[k, v] for k, v in report.items() if not isinstance(v, dict | list)]
    out.append(("概要", ["项目", "数值"], scalars))
    for k, v in report.items():
        if isinstance(v, dict) and all(not isinstance(x, dict | list) for x in v.values()):
            out.append((k, ["分类", "数量"], [[a, b] for a, b in v.items()]))
        elif isinstance(v, dict):
            for sub, items in v.items():
                if isinstance(items, list) and items:
                    cols = list(items[0])
                    out.append(
                        (
                            f"{k}.{sub}",
                            cols,
                            [
                                [
                                    json.dumps(i.get(c), ensure_ascii=False)
                                    if isinstance(i.get(c), list | dict)
                                    else i.get(c)
                                    for c in cols
                                ]
                                for i in items
                            ],
                        )
                    )
        elif isinstance(v, list) and v and isinstance(v[0], dict):
            cols = list(v[0])
            out.append(
                (
                    k,
                    cols,
                    [
                        [
                            json.dumps(i.get(c), ensure_ascii=False)
                            if isinstance(i.get(c), list | dict)
                            else i.get(c)
                            for c in cols
                        ]
                        for i in v
                    ],
                )
            )
    return out


def to_xlsx(report: dict[str, Any]) -> bytes:
    from openpyxl import Workbook

    wb = Workbook()
    wb.remove(wb.active)
    for name, cols, rows in _tables(report):
        ws = wb.create_sheet(re.sub(r"[\[\]:*?/\\]", "_", name)[:31])
        ws.append(sheet_row(cols))
        for r in rows:
            ws.append(sheet_row([str(x) if isinstance(x, date | datetime) else x for x in r]))
    buf = io.BytesIO()
    wb.save(buf)
    return buf.getvalue()


def to_html(report: dict[str, Any]) -> str:
    """A printable page (no scripts, no external resources)."""
    parts = [
        "<!doctype html><html lang='zh-CN'><head><meta charset='utf-8'>",
        f"<title>{escape(str(report['title']))}</title>",
        "<style>body{font-family:sans-serif;margin:2em}table{border-collapse:collapse;"
        "margin:1em 0}td,th{border:1px solid #999;padding:4px 8px;font-size:13px}"
        "@media print{h2{page-break-before:auto}}</style></head><body>",
        f"<h1>{escape(str(report['title']))} — {escape(str(report['jurisdiction']))} "
        f"{escape(str(report['period']))}</h1>",
    ]
    for name, cols, rows in _tables(report):
        parts.append(f"<h2>{escape(name)}</h2><table><tr>")
        parts += [f"<th>{escape(str(c))}</th>" for c in cols]
        parts.append("</tr>")
        for r in rows:
            parts.append(
                "<tr>"
                + "".join(f"<td>{escape('' if x is None else str(x))}</td>" for x in r)
                + "</tr>"
            )
        parts.append("</table>")
    parts.append(f"<p>生成于 {escape(china_today().isoformat())}</p></body></html>")
    return "".join(parts)
