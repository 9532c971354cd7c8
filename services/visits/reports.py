"""The service ledger (服务台账) of a staff member or department and the team's visit
report (走访报告) for a period, as JSON or as a workbook with Chinese headings."""

from __future__ import annotations

import io
import json
from collections import Counter
from typing import Any

from sqlalchemy import select

from services.visits.domain import Period, period_arg
from services.visits.models import teams, units
from services.visits.visitlog import list_visits
from shared.auth import Principal
from shared.db import UnitOfWork
from shared.sheets import row
from shared.usecases import Invalid, NotFound

KIND_NAMES = {
    "policy_briefing": "政策宣讲",
    "demand_survey": "需求摸排",
    "problem_solving": "问题解决",
    "resource_matching": "资源对接",
    "follow_up": "跟踪回访",
}
LEDGER_HEADINGS = [
    "走访日期",
    "走访人员",
    "责任部室",
    "服务专班",
    "企业",
    "走访类型",
    "时长(分钟)",
    "参与人员",
    "发现问题",
    "服务成效",
    "关联需求",
]
MAX_REPORT_ROWS = 5000


def _rows_for(
    uow: UnitOfWork, actor: Principal, args: dict[str, Any], period: Period
) -> list[dict[str, Any]]:
    page = list_visits(uow, actor, {**args, "period": period.label, "limit": MAX_REPORT_ROWS})
    if page["next_cursor"]:
        raise Invalid(f"More than {MAX_REPORT_ROWS} visits: narrow the period or the unit.")
    return sorted(page["items"], key=lambda b: (b["visited_on"], b["visit_id"]))


def totals(rows: list[dict[str, Any]]) -> dict[str, Any]:
    """Visits, distinct enterprises, visits by kind and the demands raised on them
    (counted by their links: edits keep them)."""
    return {
        "visits": len(rows),
        "enterprises": len({e["credit_code"] for r in rows for e in r["enterprises"]}),
        "by_kind": dict(Counter(r["kind"] for r in rows)),
        "demands_raised": sum(
            1 for r in rows for d in r.get("demands", []) if d["link"] == "raised"
        ),
    }


def _visits_in(period: Period, rows: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        "period": period.label,
        "from": period.start,
        "to": period.end,
        "visits": rows,
        "totals": totals(rows),
    }


def ledger(uow: UnitOfWork, actor: Principal, args: dict[str, Any]) -> dict[str, Any]:
    """服务台账: every visit of a staff member or department (``unit``) in a period,
    oldest first."""
    period = period_arg(args["period"])
    unit = args["unit"]
    with uow.read() as s:
        u = s.execute(select(units).where(units.c.id == unit)).first()
    if u is None or not actor.can_see(u.jurisdiction):
        raise NotFound(f"No staff member or department {unit} in your subtree.")
    key = "staff_id" if u.type == "staff" else "department_id"
    rows = _rows_for(uow, actor, {key: unit}, period)
    return {
        "unit": {"id": u.id, "type": u.type, "name": u.name, "jurisdiction": u.jurisdiction},
        **_visits_in(period, rows),
    }


def team_report(uow: UnitOfWork, actor: Principal, args: dict[str, Any]) -> dict[str, Any]:
    """走访报告: a service team's (``team``) visits in a period, its key-enterprise
    coverage and the demands found."""
    period = period_arg(args["period"])
    team_id = args["team"]
    with uow.read() as s:
        team = s.execute(select(teams).where(teams.c.id == team_id)).first()
    if team is None or not actor.can_see(team.jurisdiction):
        raise NotFound(f"No service team {team_id} in your subtree.")
    rows = _rows_for(uow, actor, {"team_id": team_id}, period)
    keys = json.loads(team.key_enterprises)
    seen = {e["credit_code"] for r in rows for e in r["enterprises"]}
    return {
        "team": {"id": team.id, "name": team.name, "linked_city": team.linked_city},
        **_visits_in(period, rows),
        "key_enterprises": {
            "linked": len(keys),
            "visited": sorted(seen & set(keys)),
            "not_visited": sorted(set(keys) - seen),
            "coverage": round(len(seen & set(keys)) / len(keys), 4) if keys else None,
        },
    }


def to_xlsx(title: str, report: dict[str, Any]) -> bytes:
    """The ledger or the report as a workbook with Chinese headings."""
    from openpyxl import Workbook

    wb = Workbook()
    ws = wb.active
    ws.title = title
    ws.append(row([title, report["period"], str(report["from"]), str(report["to"])]))
    ws.append(LEDGER_HEADINGS)
    for r in report["visits"]:
        ws.append(
            row(
                [
                    r["visited_on"],
                    r["staff_name"] or "",
                    r["department_name"] or "",
                    r["team_id"] or "",
                    "、".join(e["name"] for e in r["enterprises"]),
                    KIND_NAMES.get(r["kind"], r["kind"]),
                    r["duration_minutes"],
                    "、".join(r["participants"]),
                    r["findings"],
                    r["outcomes"],
                    "、".join(d["demand_code"] for d in r.get("demands", [])),
                ]
            )
        )
    t = report["totals"]
    ws.append([])
    ws.append(
        ["走访次数", t["visits"], "服务企业数", t["enterprises"], "发现需求", t["demands_raised"]]
    )
    if "key_enterprises" in report:
        k = report["key_enterprises"]
        ws.append(
            ["联系重点企业", k["linked"], "已走访", len(k["visited"]), "覆盖率", k["coverage"]]
        )
    buf = io.BytesIO()
    wb.save(buf)
    return buf.getvalue()
