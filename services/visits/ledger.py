"""The visit log (服务进企): log, revise, read, list; the service ledger (服务台账) and the
team's visit report (走访报告)."""

from __future__ import annotations

import hashlib
import io
import json
import uuid
from collections import Counter
from datetime import UTC, date, datetime
from typing import Any

from sqlalchemy import and_, insert, select, update

from services.visits.domain import Period, parse_period
from services.visits.metrics import VISITS
from services.visits.models import (
    demands,
    enterprises,
    teams,
    units,
    visit_demands,
    visit_enterprises,
    visit_keys,
    visit_versions,
    visits,
)
from shared.auth import Principal
from shared.contracts import visits as contract
from shared.db import UnitOfWork, claim
from shared.errors import ApiError, invalid
from shared.events import subtree_prefix
from shared.pagination import cursor_key, encode_cursor
from shared.runtime import Service
from shared.sheets import row
from shared.timezone import china_today

KIND_NAMES = {
    "policy_briefing": "政策宣讲",
    "demand_survey": "需求摸排",
    "problem_solving": "问题解决",
    "resource_matching": "资源对接",
    "follow_up": "跟踪回访",
}


def _fingerprint(body: Any) -> str:
    raw = json.dumps(body, sort_keys=True, ensure_ascii=False, default=str, separators=(",", ":"))
    return hashlib.sha256(raw.encode()).hexdigest()


def _times(data: dict[str, Any]) -> int | None:
    """Check the visit's day and times; the duration in minutes (given or from the times)."""
    today = china_today()
    if data["visited_on"] > today:
        raise invalid("json", "visited_on", "a visit cannot be in the future")
    started, ended = data.get("started_at"), data.get("ended_at")
    minutes = data.get("duration_minutes")
    now = datetime.now(UTC)
    if ended is not None and started is None:
        raise invalid("json", "started_at", "give the start with the end")
    if started is not None:
        if started > now:
            raise invalid("json", "started_at", "a visit cannot start in the future")
        if china_today(started) != data["visited_on"]:
            raise invalid("json", "started_at", "the visit starts on visited_on (China time)")
    if ended is not None and started is not None:
        if ended <= started:
            raise invalid("json", "ended_at", "the visit must end after it starts")
        if ended > now:
            raise invalid("json", "ended_at", "a visit cannot end in the future")
        spanned = max(1, round((ended - started).total_seconds() / 60))
        if minutes is not None and abs(minutes - spanned) > 1:
            raise invalid(
                "json",
                "duration_minutes",
                f"the start and end say {spanned} minutes, not {minutes}",
            )
        minutes = spanned
    return minutes


def _resolve(s: Any, principal: Principal, data: dict[str, Any]) -> dict[str, Any]:
    """Check who visited and whom: known units that belong together, known enterprises,
    known demands followed up — all within the caller's subtree."""
    out: dict[str, Any] = {"staff_name": None, "department_name": None}
    staff_id, dept_id, team_id = (
        data.get("staff_id"),
        data.get("department_id"),
        data.get("team_id"),
    )
    if not (staff_id or dept_id or team_id):
        raise invalid(
            "json", "staff_id", "name the staff member, the department or the service team"
        )
    seen: list[str] = []  # every unit named must be within the caller's subtree
    if staff_id:
        person = s.execute(
            select(units).where(units.c.id == staff_id, units.c.type == "staff")
        ).first()
        if person is None:
            raise invalid("json", "staff_id", f"unknown staff member {staff_id}")
        if dept_id and dept_id != person.department_id:
            raise invalid("json", "department_id", f"{staff_id} belongs to {person.department_id}")
        out["staff_name"] = person.name
        dept_id = person.department_id
        seen.append(person.jurisdiction)
    if dept_id:
        dept = s.execute(
            select(units).where(units.c.id == dept_id, units.c.type == "department")
        ).first()
        if dept is None:
            field = "department_id" if data.get("department_id") else "staff_id"
            raise invalid("json", field, f"unknown department {dept_id} (not announced yet?)")
        out["department_name"] = dept.name
        seen.append(dept.jurisdiction)
    if team_id:
        team = s.execute(select(teams).where(teams.c.id == team_id)).first()
        if team is None:
            raise invalid("json", "team_id", f"unknown service team {team_id}")
        seen.append(team.jurisdiction)
    for code in seen:
        if not principal.can_see(code):
            raise ApiError(403, f"The visiting unit belongs to {code}, outside your subtree.")
    ents = []
    for code in dict.fromkeys(data["enterprises"]):
        ent = s.execute(select(enterprises).where(enterprises.c.credit_code == code)).first()
        if ent is None:
            raise invalid(
                "json", "enterprises", f"unknown enterprise {code} (register it in intake)"
            )
        if not principal.can_see(ent.jurisdiction):
            raise ApiError(
                403, f"Enterprise {code} is registered in {ent.jurisdiction}, outside your subtree."
            )
        ents.append({"credit_code": code, "name": ent.name, "jurisdiction": ent.jurisdiction})
    for raised in data.get("demands_raised") or []:
        if raised["credit_code"] not in data["enterprises"]:
            raise invalid(
                "json", "demands_raised", "a demand raised on the visit names a visited enterprise"
            )
    followed = []
    for code in dict.fromkeys(data.get("follow_up_of") or []):
        d = s.execute(select(demands).where(demands.c.code == code)).first()
        if d is None or not principal.can_see(d.jurisdiction):
            raise invalid("json", "follow_up_of", f"no demand {code} in your subtree")
        if d.credit_code not in data["enterprises"]:
            raise invalid(
                "json", "follow_up_of", f"{code} is a demand of an enterprise not visited"
            )
        followed.append({"code": code, "jurisdiction": d.jurisdiction})
    return out | {
        "department_id": dept_id,
        "jurisdiction": seen[0],
        "enterprises": ents,
        "followed": followed,
        "duration_minutes": _times(data),
    }


def _body(
    visit_id: str,
    version: int,
    data: dict[str, Any],
    who: dict[str, Any],
    actor: str,
    at: datetime,
    reason: str | None,
) -> dict[str, Any]:
    started, ended = data.get("started_at"), data.get("ended_at")
    minutes = who["duration_minutes"]
    return {
        "visit_id": visit_id,
        "version": version,
        "staff_id": data.get("staff_id"),
        "staff_name": who["staff_name"],
        "department_id": who["department_id"],
        "department_name": who["department_name"],
        "team_id": data.get("team_id"),
        "enterprises": who["enterprises"],
        "visited_on": data["visited_on"].isoformat(),
        "started_at": started.isoformat() if started else None,
        "ended_at": ended.isoformat() if ended else None,
        "duration_minutes": minutes,
        "kind": data["kind"],
        "participants": data.get("participants") or [],
        "findings": data.get("findings") or "",
        "outcomes": data.get("outcomes") or "",
        "demands_raised": [
            {**d, "contact": d.get("contact"), "service_item": d.get("service_item")}
            for d in data.get("demands_raised") or []
        ],
        "follow_up_of": list(dict.fromkeys(data.get("follow_up_of") or [])),
        "logged_by": actor,
        "at": at.isoformat(),
        "reason": reason,
    }


def stored_body(body: dict[str, Any]) -> dict[str, Any]:
    """The visit as kept and read back: a demand raised on it keeps its enterprise and
    category only; its content and contact live in intake, under intake's confidentiality
    rules (the demand is linked by code once created)."""
    return body | {
        "demands_raised": [
            {k: d.get(k) for k in ("credit_code", "category", "service_item")}
            for d in body["demands_raised"]
        ]
    }


def _write_current(
    uow: UnitOfWork,
    body: dict[str, Any],
    jurisdiction: str,
    actor: str,
    at: datetime,
    first: bool,
    followed: list[dict[str, str]],
) -> None:
    visited_on = date.fromisoformat(body["visited_on"])
    values = {
        "version": body["version"],
        "jurisdiction": jurisdiction,
        "staff_id": body["staff_id"],
        "department_id": body["department_id"],
        "team_id": body["team_id"],
        "visited_on": visited_on,
        "kind": body["kind"],
    }
    s = uow.session
    if first:
        s.execute(
            insert(visits).values(id=body["visit_id"], created_by=actor, created_at=at, **values)
        )
    else:
        s.execute(update(visits).where(visits.c.id == body["visit_id"]).values(**values))
        s.execute(
            visit_enterprises.delete().where(visit_enterprises.c.visit_id == body["visit_id"])
        )
    for e in body["enterprises"]:
        s.execute(
            insert(visit_enterprises).values(
                visit_id=body["visit_id"],
                credit_code=e["credit_code"],
                enterprise_jurisdiction=e["jurisdiction"],
                visited_on=visited_on,
            )
        )
    s.execute(
        insert(visit_versions).values(
            visit_id=body["visit_id"],
            version=body["version"],
            body=json.dumps(stored_body(body), ensure_ascii=False),
            edited_by=actor,
            edited_at=at,
            reason=body["reason"],
        )
    )
    where = {f["code"]: f["jurisdiction"] for f in followed}
    for code in body["follow_up_of"]:
        linked = claim(
            s,
            uow.db,
            visit_demands,
            visit_id=body["visit_id"],
            demand_code=code,
            link="follow_up",
            at=at,
        )
        if linked:
            uow.emit(
                contract.demand_linked(
                    jurisdiction=where[code],  # the demand's own: its trace stays its own
                    payload={
                        "visit_id": body["visit_id"],
                        "demand_code": code,
                        "link": "follow_up",
                        "credit_code": None,
                        "at": at.isoformat(),
                    },
                )
            )


def log_visit(
    svc: Service,
    principal: Principal,
    data: dict[str, Any],
    cid: str,
    idempotency_key: str | None,
) -> tuple[dict[str, Any], bool]:
    """Log a visit; returns (the visit, replayed). The same Idempotency-Key with the same
    body answers with the first visit; with another body, 409."""
    now = datetime.now(UTC)
    fingerprint = _fingerprint(data)
    visit_id = str(uuid.uuid4())
    with svc.uow() as uow:
        # The key is claimed first: a concurrent retry waits on it (PostgreSQL's unique
        # index, SQLite's write lock), then finds it taken and answers as the first did.
        if idempotency_key and not claim(
            uow.session,
            uow.db,
            visit_keys,
            principal=principal.key_id,
            key=idempotency_key,
            request_sha256=fingerprint,
            visit_id=visit_id,
        ):
            uow.rollback()
            with svc.db.session() as s:
                prior = s.execute(
                    select(visit_keys).where(
                        visit_keys.c.principal == principal.key_id,
                        visit_keys.c.key == idempotency_key,
                    )
                ).one()
            if prior.request_sha256 != fingerprint:
                raise ApiError(
                    409,
                    "This Idempotency-Key was used with another request body.",
                    code="idempotency_key_reused",
                )
            return get_visit(svc, principal, prior.visit_id), True
        who = _resolve(uow.session, principal, data)
        body = _body(visit_id, 1, data, who, principal.key_id, now, None)
        _write_current(uow, body, who["jurisdiction"], principal.key_id, now, True, who["followed"])
        uow.emit(
            contract.visit_logged(
                jurisdiction=who["jurisdiction"],
                payload=body,
                correlation_id=cid,
            )
        )
        uow.commit()
    VISITS.labels(data["kind"]).inc()
    return get_visit(svc, principal, visit_id), False


def revise_visit(
    svc: Service, principal: Principal, visit_id: str, data: dict[str, Any], cid: str
) -> dict[str, Any]:
    """An edit is a new version; earlier versions stay readable."""
    now = datetime.now(UTC)
    reason = data.pop("reason")
    with svc.uow() as uow:
        row = uow.session.execute(
            select(visits).where(visits.c.id == visit_id).with_for_update()
        ).first()
        if row is None or not principal.can_see(row.jurisdiction):
            raise ApiError(404, f"No visit {visit_id}.")
        if data.get("demands_raised"):
            raise invalid(
                "json",
                "demands_raised",
                "demands are raised when a visit is logged; log them in intake",
            )
        who = _resolve(uow.session, principal, data)
        body = _body(visit_id, row.version + 1, data, who, principal.key_id, now, reason)
        _write_current(
            uow, body, who["jurisdiction"], principal.key_id, now, False, who["followed"]
        )
        uow.emit(
            contract.visit_revised(
                jurisdiction=who["jurisdiction"],
                payload=body,
                correlation_id=cid,
            )
        )
        uow.commit()
    return get_visit(svc, principal, visit_id)


def _demands_of(s: Any, visit_ids: list[str]) -> dict[str, list[dict[str, str]]]:
    out: dict[str, list[dict[str, str]]] = {v: [] for v in visit_ids}
    if visit_ids:
        for r in s.execute(
            select(visit_demands)
            .where(visit_demands.c.visit_id.in_(visit_ids))
            .order_by(visit_demands.c.at, visit_demands.c.demand_code)
        ):
            out[r.visit_id].append({"demand_code": r.demand_code, "link": r.link})
    return out


def get_visit(svc: Service, principal: Principal, visit_id: str) -> dict[str, Any]:
    with svc.db.session() as s:
        row = s.execute(select(visits).where(visits.c.id == visit_id)).first()
        if row is None or not principal.can_see(row.jurisdiction):
            raise ApiError(404, f"No visit {visit_id}.")
        body = s.execute(
            select(visit_versions.c.body).where(
                visit_versions.c.visit_id == visit_id, visit_versions.c.version == row.version
            )
        ).scalar_one()
        out = json.loads(body) | {"jurisdiction": row.jurisdiction}
        out["demands"] = _demands_of(s, [visit_id])[visit_id]
    return out


def versions(svc: Service, principal: Principal, visit_id: str) -> list[dict[str, Any]]:
    get_visit(svc, principal, visit_id)  # scope check
    with svc.db.session() as s:
        rows = s.execute(
            select(visit_versions)
            .where(visit_versions.c.visit_id == visit_id)
            .order_by(visit_versions.c.version)
        ).all()
    return [json.loads(r.body) for r in rows]


def _filtered(principal: Principal, args: dict[str, Any]) -> Any:
    v = visits.c
    q = select(visits).where(
        v.jurisdiction.startswith(
            subtree_prefix(args.get("jurisdiction") or principal.jurisdiction)
        )
    )
    if args.get("jurisdiction") and not principal.can_see(args["jurisdiction"]):
        raise ApiError(403, f"Jurisdiction {args['jurisdiction']} is outside your subtree.")
    for name in ("staff_id", "department_id", "team_id", "kind"):
        if args.get(name):
            q = q.where(v[name] == args[name])
    if args.get("enterprise"):
        q = q.where(
            select(visit_enterprises.c.visit_id)
            .where(
                visit_enterprises.c.visit_id == v.id,
                visit_enterprises.c.credit_code == args["enterprise"],
            )
            .exists()
        )
    if args.get("period"):
        try:
            p = parse_period(args["period"])
        except ValueError as exc:
            raise ApiError(
                422, "The request is invalid; see fields.", fields={"query": {"period": [str(exc)]}}
            ) from None
        q = q.where(v.visited_on >= p.start, v.visited_on <= p.end)
    if args.get("from"):
        q = q.where(v.visited_on >= args["from"])
    if args.get("to"):
        q = q.where(v.visited_on <= args["to"])
    return q


def list_visits(svc: Service, principal: Principal, args: dict[str, Any]) -> dict[str, Any]:
    """Visits in the subtree, newest first, filtered, a page at a time (keyset cursor)."""
    v = visits.c
    q = _filtered(principal, args)
    key = cursor_key(args.get("cursor"), 2, lambda k: [date.fromisoformat(str(k[0])), str(k[1])])
    if key is not None:
        day = key[0]
        q = q.where((v.visited_on < day) | and_(v.visited_on == day, v.id < key[1]))
    limit = args["limit"]
    with svc.db.session() as s:
        rows = s.execute(q.order_by(v.visited_on.desc(), v.id.desc()).limit(limit + 1)).all()
        page = rows[:limit]
        bodies = {
            r.visit_id: json.loads(r.body)
            for r in s.execute(
                select(visit_versions.c.visit_id, visit_versions.c.body).where(
                    visit_versions.c.visit_id.in_([r.id for r in page]),
                    visit_versions.c.version
                    == select(visits.c.version)
                    .where(visits.c.id == visit_versions.c.visit_id)
                    .scalar_subquery(),
                )
            )
        }
        demands = _demands_of(s, [r.id for r in page])
    items = [
        bodies[r.id] | {"jurisdiction": r.jurisdiction, "demands": demands[r.id]} for r in page
    ]
    nxt = (
        encode_cursor([page[-1].visited_on.isoformat(), page[-1].id]) if len(rows) > limit else None
    )
    return {"items": items, "next_cursor": nxt}


# --- the ledger and the team report -------------------------------------------------------

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
    svc: Service, principal: Principal, args: dict[str, Any], period: Period
) -> list[dict[str, Any]]:
    page = list_visits(svc, principal, {**args, "period": period.label, "limit": MAX_REPORT_ROWS})
    if page["next_cursor"]:
        raise ApiError(422, f"More than {MAX_REPORT_ROWS} visits: narrow the period or the unit.")
    return sorted(page["items"], key=lambda b: (b["visited_on"], b["visit_id"]))


def ledger(svc: Service, principal: Principal, unit: str, period_text: str) -> dict[str, Any]:
    """服务台账: every visit of a staff member or department in a period, oldest first."""
    period = _period(period_text)
    with svc.db.session() as s:
        u = s.execute(select(units).where(units.c.id == unit)).first()
    if u is None or not principal.can_see(u.jurisdiction):
        raise ApiError(404, f"No staff member or department {unit} in your subtree.")
    key = "staff_id" if u.type == "staff" else "department_id"
    rows = _rows_for(svc, principal, {key: unit}, period)
    return {
        "unit": {"id": u.id, "type": u.type, "name": u.name, "jurisdiction": u.jurisdiction},
        "period": period.label,
        "from": period.start,
        "to": period.end,
        "visits": rows,
        "totals": {
            "visits": len(rows),
            "enterprises": len({e["credit_code"] for r in rows for e in r["enterprises"]}),
            "by_kind": dict(Counter(r["kind"] for r in rows)),
            "demands_raised": _raised(rows),
        },
    }


def _raised(rows: list[dict[str, Any]]) -> int:
    """Demands raised on the visits, counted by their links (edits keep them)."""
    return sum(1 for r in rows for d in r.get("demands", []) if d["link"] == "raised")


def team_report(
    svc: Service, principal: Principal, team_id: str, period_text: str
) -> dict[str, Any]:
    """走访报告: a service team's visits in a period, its key-enterprise coverage and the
    demands found."""
    period = _period(period_text)
    with svc.db.session() as s:
        team = s.execute(select(teams).where(teams.c.id == team_id)).first()
    if team is None or not principal.can_see(team.jurisdiction):
        raise ApiError(404, f"No service team {team_id} in your subtree.")
    rows = _rows_for(svc, principal, {"team_id": team_id}, period)
    keys = json.loads(team.key_enterprises)
    seen = {e["credit_code"] for r in rows for e in r["enterprises"]}
    return {
        "team": {"id": team.id, "name": team.name, "linked_city": team.linked_city},
        "period": period.label,
        "from": period.start,
        "to": period.end,
        "visits": rows,
        "totals": {
            "visits": len(rows),
            "enterprises": len(seen),
            "by_kind": dict(Counter(r["kind"] for r in rows)),
            "demands_raised": _raised(rows),
        },
        "key_enterprises": {
            "linked": len(keys),
            "visited": sorted(seen & set(keys)),
            "not_visited": sorted(set(keys) - seen),
            "coverage": round(len(seen & set(keys)) / len(keys), 4) if keys else None,
        },
    }


def _period(text: str) -> Period:
    try:
        return parse_period(text)
    except ValueError as exc:
        raise ApiError(
            422, "The request is invalid; see fields.", fields={"query": {"period": [str(exc)]}}
        ) from None


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
