"""Frequency rules, compliance and the things it is counted on: service teams,
stations and their duty roster, visit plans; the periodic overdue sweep."""

from __future__ import annotations

import json
import re
import uuid
from datetime import UTC, date, datetime, timedelta
from typing import Any

from sqlalchemy import func, insert, select, update

from services.visits.domain import (
    RULE_KINDS,
    FrequencyRules,
    Period,
    is_working_day,
    parse_period,
    plan_step,
    previous_period,
    required_duty_days,
    status_of,
)
from services.visits.metrics import PLANS_MISSED, SHORTFALLS
from services.visits.models import (
    duty_days,
    enterprise_links,
    enterprises,
    frequency_rules,
    overdue_flags,
    plans,
    stations,
    teams,
    units,
    visit_enterprises,
    visits,
)
from shared.auth import Principal
from shared.contracts import visits as contract
from shared.db import UnitOfWork, claim
from shared.errors import ApiError, invalid
from shared.events import jurisdiction_path, subtree_prefix
from shared.rulesets import version_in_force
from shared.runtime import Service
from shared.scoping import require_rules_readable, require_visible
from shared.timezone import china_today

ID_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]{0,39}")


def _check_id(what: str, value: str) -> None:
    if not ID_RE.fullmatch(value):
        raise invalid("path", f"{what}_id", "1-40 letters, digits, - or _")


# --- the rules as data ---------------------------------------------------------------


def rules_for(s: Any, jurisdiction: str, on: date) -> tuple[str, int, FrequencyRules]:
    """The rules in force for a jurisdiction on a day: the nearest jurisdiction on its
    path with a published version in effect, else the seeds' defaults (version 0)."""
    r = version_in_force(s, frequency_rules, jurisdiction, on)
    if r is None:
        return "default", 0, FrequencyRules()
    return r.jurisdiction, r.version, FrequencyRules(**json.loads(r.params))


def get_rules(svc: Service, principal: Principal, jurisdiction: str) -> dict[str, Any]:
    require_rules_readable(principal, jurisdiction)
    with svc.db.session() as s:
        source, version, rules = rules_for(s, jurisdiction, china_today())
        history = s.execute(
            select(frequency_rules)
            .where(frequency_rules.c.jurisdiction == jurisdiction)
            .order_by(frequency_rules.c.version)
        ).all()
    return {
        "jurisdiction": jurisdiction,
        "source": source,
        "version": version,
        "rules": rules.as_dict(),
        "rule_kinds": {
            k: {"subject": v[0], "period": v[1], "source": v[2]} for k, v in RULE_KINDS.items()
        },
        "versions": [
            {
                "version": r.version,
                "effective_from": r.effective_from,
                "rules": json.loads(r.params),
                "published_by": r.published_by,
                "published_at": r.published_at,
            }
            for r in history
        ],
    }


def publish_rules(
    svc: Service, principal: Principal, jurisdiction: str, data: dict[str, Any]
) -> dict[str, Any]:
    require_visible(principal, jurisdiction)
    effective = data.pop("effective_from")
    if effective < china_today():
        raise invalid("json", "effective_from", "rules take effect today or later")
    with svc.db.session() as s:
        _, _, in_force = rules_for(s, jurisdiction, effective)
    rules = FrequencyRules(**{**in_force.as_dict(), **data})  # unsent fields: as in force
    problems = rules.problems()
    if problems:
        raise ApiError(
            422, "Inconsistent rule set.", fields={"json": {k: [v] for k, v in problems.items()}}
        )
    with svc.uow() as uow:
        last = uow.session.execute(
            select(func.max(frequency_rules.c.version)).where(
                frequency_rules.c.jurisdiction == jurisdiction
            )
        ).scalar()
        uow.session.execute(
            insert(frequency_rules).values(
                jurisdiction=jurisdiction,
                version=(last or 0) + 1,
                effective_from=effective,
                params=json.dumps(rules.as_dict()),
                published_by=principal.key_id,
                published_at=datetime.now(UTC),
            )
        )
        uow.commit()
    return get_rules(svc, principal, jurisdiction)


# --- teams, stations, duty ----------------------------------------------------------------


def put_team(
    svc: Service, principal: Principal, team_id: str, data: dict[str, Any]
) -> dict[str, Any]:
    """A provincial service team (SX 服务专班): its linked city and key enterprises."""
    _check_id("team", team_id)
    require_visible(principal, data["jurisdiction"])
    city = data["linked_city"]
    path = jurisdiction_path(city)
    if len(path) != 2 or path[0] != jurisdiction_path(data["jurisdiction"])[0]:
        raise invalid("json", "linked_city", "a city (prefecture) of the team's province")
    with svc.uow() as uow:
        s = uow.session
        old = s.execute(select(teams.c.jurisdiction).where(teams.c.id == team_id)).first()
        if old is not None:
            require_visible(principal, old.jurisdiction)
        keys = list(dict.fromkeys(data["key_enterprises"]))
        known = {
            code
            for code, where in s.execute(
                select(enterprises.c.credit_code, enterprises.c.jurisdiction).where(
                    enterprises.c.credit_code.in_(keys)
                )
            ).all()
            if principal.can_see(where)
        }
        missing = [k for k in keys if k not in known]
        if missing:
            raise invalid(
                "json",
                "key_enterprises",
                f"no such enterprises in your subtree: {', '.join(missing)}",
            )
        values = {
            "name": data["name"],
            "jurisdiction": data["jurisdiction"],
            "linked_city": data["linked_city"],
            "key_enterprises": json.dumps(keys),
            "updated_at": datetime.now(UTC),
        }
        if old is None:
            s.execute(insert(teams).values(id=team_id, **values))
        else:
            s.execute(update(teams).where(teams.c.id == team_id).values(**values))
        uow.commit()
    return {"id": team_id, **values, "key_enterprises": keys}


def list_teams(svc: Service, principal: Principal) -> list[dict[str, Any]]:
    with svc.db.session() as s:
        rows = s.execute(
            select(teams)
            .where(teams.c.jurisdiction.startswith(subtree_prefix(principal.jurisdiction)))
            .order_by(teams.c.id)
        ).mappings()
        return [{**dict(r), "key_enterprises": json.loads(r["key_enterprises"])} for r in rows]


def _staff_in(s: Any, principal: Principal, ids: list[str]) -> None:
    rows = {
        r.id: r
        for r in s.execute(select(units).where(units.c.id.in_(ids), units.c.type == "staff"))
    }
    missing = [i for i in ids if i not in rows]
    if missing:
        raise invalid("json", "staff_ids", f"unknown staff: {', '.join(missing)}")
    for r in rows.values():
        require_visible(principal, r.jurisdiction)


def put_station(
    svc: Service, principal: Principal, station_id: str, data: dict[str, Any]
) -> dict[str, Any]:
    """A service station (CX 服务站) and the staff who take turns on duty there."""
    _check_id("station", station_id)
    require_visible(principal, data["jurisdiction"])
    staff_ids = list(dict.fromkeys(data["staff_ids"]))
    with svc.uow() as uow:
        s = uow.session
        old = s.execute(select(stations.c.jurisdiction).where(stations.c.id == station_id)).first()
        if old is not None:
            require_visible(principal, old.jurisdiction)
        _staff_in(s, principal, staff_ids)
        values = {
            "name": data["name"],
            "jurisdiction": data["jurisdiction"],
            "staff_ids": json.dumps(staff_ids),
            "updated_at": datetime.now(UTC),
        }
        if old is None:
            s.execute(insert(stations).values(id=station_id, **values))
        else:
            s.execute(update(stations).where(stations.c.id == station_id).values(**values))
        uow.commit()
    return {"id": station_id, **values, "staff_ids": staff_ids}


def record_duty(
    svc: Service, principal: Principal, station_id: str, data: dict[str, Any]
) -> dict[str, Any]:
    """The duty roster: the days a station's staff member was on duty (idempotent)."""
    today = china_today()
    with svc.uow() as uow:
        s = uow.session
        st = s.execute(select(stations).where(stations.c.id == station_id)).first()
        if st is None or not principal.can_see(st.jurisdiction):
            raise ApiError(404, f"No station {station_id} in your subtree.")
        if data["staff_id"] not in json.loads(st.staff_ids):
            raise invalid("json", "staff_id", f"{data['staff_id']} is not on {station_id}'s staff")
        future = [d for d in data["days"] if d > today]
        if future:
            raise invalid("json", "days", "duty is recorded for days that have begun")
        added = 0
        for day in sorted(set(data["days"])):
            added += claim(
                s,
                uow.db,
                duty_days,
                staff_id=data["staff_id"],
                day=day,
                station_id=station_id,
                recorded_by=principal.key_id,
            )
        uow.commit()
    return {"station_id": station_id, "staff_id": data["staff_id"], "recorded": added}


# --- plans ----------------------------------------------------------------------------------


def create_plan(
    svc: Service, principal: Principal, data: dict[str, Any], cid: str
) -> dict[str, Any]:
    from services.visits.ledger import _resolve

    if data["planned_on"] < china_today():
        raise invalid("json", "planned_on", "a plan is for today or later")
    now = datetime.now(UTC)
    with svc.uow() as uow:
        who = _resolve(
            uow.session, principal, {**data, "visited_on": china_today(), "demands_raised": []}
        )
        plan_id = str(uuid.uuid4())
        values = {
            "id": plan_id,
            "jurisdiction": who["jurisdiction"],
            "staff_id": data.get("staff_id"),
            "department_id": who["department_id"],
            "team_id": data.get("team_id"),
            "enterprises": json.dumps([e["credit_code"] for e in who["enterprises"]]),
            "planned_on": data["planned_on"],
            "kind": data["kind"],
            "note": data.get("note") or "",
            "status": "planned",
            "created_by": principal.key_id,
            "updated_at": now,
        }
        uow.session.execute(insert(plans).values(**values))
        _plan_event(uow, values, None, "planned", None, None, principal.key_id, cid)
        uow.commit()
    return get_plan(svc, principal, plan_id)


def _plan_event(
    uow: UnitOfWork,
    plan: dict[str, Any],
    from_status: str | None,
    to: str,
    reason: str | None,
    visit_id: str | None,
    actor: str,
    cid: str | None,
) -> None:
    uow.emit(
        contract.plan_status_changed(
            jurisdiction=plan["jurisdiction"],
            correlation_id=cid,
            payload={
                "plan_id": plan["id"],
                "from_status": from_status,
                "to_status": to,
                "planned_on": plan["planned_on"].isoformat(),
                "reason": reason,
                "visit_id": visit_id,
                "actor": actor,
                "at": datetime.now(UTC).isoformat(),
            },
        )
    )


def get_plan(svc: Service, principal: Principal, plan_id: str) -> dict[str, Any]:
    with svc.db.session() as s:
        row = s.execute(select(plans).where(plans.c.id == plan_id)).mappings().first()
    if row is None or not principal.can_see(row["jurisdiction"]):
        raise ApiError(404, f"No plan {plan_id}.")
    return {**dict(row), "enterprises": json.loads(row["enterprises"])}


def list_plans(svc: Service, principal: Principal, args: dict[str, Any]) -> list[dict[str, Any]]:
    p = plans.c
    q = select(plans).where(p.jurisdiction.startswith(subtree_prefix(principal.jurisdiction)))
    for name in ("status", "staff_id", "department_id", "team_id"):
        if args.get(name):
            q = q.where(p[name] == args[name])
    if args.get("period"):
        try:
            period = parse_period(args["period"])
        except ValueError as exc:
            raise invalid("query", "period", str(exc)) from None
        q = q.where(p.planned_on >= period.start, p.planned_on <= period.end)
    with svc.db.session() as s:
        rows = s.execute(q.order_by(p.planned_on, p.id).limit(args["limit"])).mappings()
        return [{**dict(r), "enterprises": json.loads(r["enterprises"])} for r in rows]


def move_plan(
    svc: Service, principal: Principal, plan_id: str, action: str, data: dict[str, Any], cid: str
) -> dict[str, Any]:
    """planned → done (with the visit that did it) / missed / cancelled (with a reason)."""
    with svc.uow() as uow:
        row = (
            uow.session.execute(select(plans).where(plans.c.id == plan_id).with_for_update())
            .mappings()
            .first()
        )
        if row is None or not principal.can_see(row["jurisdiction"]):
            raise ApiError(404, f"No plan {plan_id}.")
        try:
            to = plan_step(action, row["status"])
        except ValueError as exc:
            raise ApiError(409, str(exc)) from None
        visit_id = data.get("visit_id")
        if action == "done":
            v = uow.session.execute(select(visits).where(visits.c.id == visit_id)).first()
            if v is None or not principal.can_see(v.jurisdiction):
                raise invalid("json", "visit_id", "no such visit in your subtree")
            who = ("staff_id", "department_id", "team_id")
            if any(row[k] and row[k] != getattr(v, k) for k in who):
                raise invalid("json", "visit_id", "the visit was made by another unit")
            visited = set(
                uow.session.execute(
                    select(visit_enterprises.c.credit_code).where(
                        visit_enterprises.c.visit_id == visit_id
                    )
                ).scalars()
            )
            if not visited & set(json.loads(row["enterprises"])):
                raise invalid("json", "visit_id", "the visit did not go to the planned enterprises")
            if v.visited_on < row["planned_on"] - timedelta(days=7):
                raise invalid("json", "visit_id", "the visit took place before the plan")
        uow.session.execute(
            update(plans)
            .where(plans.c.id == plan_id)
            .values(
                status=to,
                reason=data.get("reason"),
                visit_id=visit_id,
                updated_at=datetime.now(UTC),
            )
        )
        _plan_event(
            uow, dict(row), row["status"], to, data.get("reason"), visit_id, principal.key_id, cid
        )
        uow.commit()
    if to == "missed":
        PLANS_MISSED.inc()
    return get_plan(svc, principal, plan_id)


def miss_overdue_plans(svc: Service, today: date) -> int:
    """Plans still ``planned`` after their day become ``missed`` (safe with several
    workers: each row is re-checked under its lock)."""
    with svc.uow() as uow:
        ids = (
            uow.session.execute(
                select(plans.c.id).where(plans.c.status == "planned", plans.c.planned_on < today)
            )
            .scalars()
            .all()
        )
        n = 0
        for plan_id in ids:
            row = (
                uow.session.execute(
                    select(plans)
                    .where(plans.c.id == plan_id, plans.c.status == "planned")
                    .with_for_update()
                )
                .mappings()
                .first()
            )
            if row is None:
                continue
            uow.session.execute(
                update(plans)
                .where(plans.c.id == plan_id)
                .values(
                    status="missed",
                    reason="not done by the planned day",
                    updated_at=datetime.now(UTC),
                )
            )
            _plan_event(
                uow,
                dict(row),
                "planned",
                "missed",
                "not done by the planned day",
                None,
                "visits",
                None,
            )
            n += 1
        uow.commit()
    PLANS_MISSED.inc(n)
    return n


# --- compliance -------------------------------------------------------------------------------


def _count_visits(s: Any, period: Period, **where: Any) -> int:
    q = (
        select(func.count())
        .select_from(visits)
        .where(visits.c.visited_on >= period.start, visits.c.visited_on <= period.end)
    )
    for k, v in where.items():
        q = q.where(visits.c[k] == v)
    return int(s.execute(q).scalar_one())


def _visited(s: Any, period: Period, codes: list[str], **where: Any) -> dict[str, int]:
    """Visits per enterprise (of ``codes``) in the period by the unit in ``where``."""
    if not codes:
        return {}
    ve = visit_enterprises.c
    q = (
        select(ve.credit_code, func.count())
        .join(visits, visits.c.id == ve.visit_id)
        .where(
            ve.credit_code.in_(codes), ve.visited_on >= period.start, ve.visited_on <= period.end
        )
        .group_by(ve.credit_code)
    )
    for k, v in where.items():
        q = q.where(visits.c[k] == v)
    return {code: int(n) for code, n in s.execute(q).all()}


def _visits_to(s: Any, period: Period, codes: list[str], **where: Any) -> int:
    """Visits in the period by the unit in ``where`` to at least one of ``codes``."""
    if not codes:
        return 0
    ve = visit_enterprises.c
    q = (
        select(func.count(func.distinct(ve.visit_id)))
        .join(visits, visits.c.id == ve.visit_id)
        .where(
            ve.credit_code.in_(codes), ve.visited_on >= period.start, ve.visited_on <= period.end
        )
    )
    for k, v in where.items():
        q = q.where(visits.c[k] == v)
    return int(s.execute(q).scalar_one())


def compliance(
    svc: Service, principal: Principal, period_text: str, root: str | None
) -> dict[str, Any]:
    """For each rule of the period's granularity and each subject in the subtree:
    required, done, shortfall, status (met / short once the period closed / open)."""
    try:
        period = parse_period(period_text)
    except ValueError as exc:
        raise invalid("query", "period", str(exc)) from None
    root = root or principal.jurisdiction
    require_visible(principal, root)
    with svc.db.session() as s:
        rows, coverage = evaluate(s, period, root, china_today())
    return {
        "period": period.label,
        "from": period.start,
        "to": period.end,
        "jurisdiction": root,
        "items": rows,
        "key_enterprise_coverage": coverage,
    }


def evaluate(
    s: Any, period: Period, root: str, today: date
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    prefix = subtree_prefix(root)
    out: list[dict[str, Any]] = []
    coverage: list[dict[str, Any]] = []
    rules_cache: dict[str, tuple[str, int, FrequencyRules]] = {}

    def rules(jurisdiction: str) -> tuple[str, int, FrequencyRules]:
        if jurisdiction not in rules_cache:
            rules_cache[jurisdiction] = rules_for(s, jurisdiction, period.start)
        return rules_cache[jurisdiction]

    def row(
        rule: str,
        subject_type: str,
        sid: str,
        name: str,
        jurisdiction: str,
        required: int,
        done: int,
        **extra: Any,
    ) -> None:
        out.append(
            {
                "rule": rule,
                "source": RULE_KINDS[rule][2],
                "rule_version": rules(jurisdiction)[1],
                "subject_type": subject_type,
                "subject_id": sid,
                "subject_name": name,
                "jurisdiction": jurisdiction,
                "required": required,
                "done": done,
                "shortfall": max(required - done, 0),
                "status": status_of(required, done, period, today),
                **extra,
            }
        )

    depts = s.execute(
        select(units)
        .where(units.c.type == "department", units.c.jurisdiction.startswith(prefix))
        .order_by(units.c.id)
    ).all()
    if period.kind == "week":
        for d in depts:
            row(
                "department_weekly",
                "department",
                d.id,
                d.name,
                d.jurisdiction,
                rules(d.jurisdiction)[2].department_weekly,
                _count_visits(s, period, department_id=d.id),
            )
        for st in s.execute(
            select(stations)
            .where(stations.c.jurisdiction.startswith(prefix))
            .order_by(stations.c.id)
        ).all():
            per_five = rules(st.jurisdiction)[2].station_duty_days_per_five
            required = required_duty_days(per_five, period)
            names = dict(
                s.execute(
                    select(units.c.id, units.c.name).where(units.c.id.in_(json.loads(st.staff_ids)))
                ).all()
            )
            for staff_id in json.loads(st.staff_ids):
                days = (
                    s.execute(
                        select(duty_days.c.day).where(
                            duty_days.c.staff_id == staff_id,
                            duty_days.c.station_id == st.id,
                            duty_days.c.day >= period.start,
                            duty_days.c.day <= period.end,
                        )
                    )
                    .scalars()
                    .all()
                )
                done = sum(1 for d in days if is_working_day(d))
                row(
                    "station_duty",
                    "station_staff",
                    f"{st.id}/{staff_id}",
                    names.get(staff_id, staff_id),
                    st.jurisdiction,
                    required,
                    done,
                    station_id=st.id,
                    working_days=sum(1 for d in period.days() if is_working_day(d)),
                )
    team_rows = s.execute(
        select(teams).where(teams.c.jurisdiction.startswith(prefix)).order_by(teams.c.id)
    ).all()
    if period.kind == "month":
        for t in team_rows:
            city_prefix = subtree_prefix(t.linked_city)
            ve = visit_enterprises.c
            done = int(
                s.execute(
                    select(func.count(func.distinct(ve.visit_id)))
                    .join(visits, visits.c.id == ve.visit_id)
                    .where(
                        visits.c.team_id == t.id,
                        ve.enterprise_jurisdiction.startswith(city_prefix),
                        ve.visited_on >= period.start,
                        ve.visited_on <= period.end,
                    )
                ).scalar_one()
            )
            row(
                "team_city_monthly",
                "team",
                t.id,
                t.name,
                t.jurisdiction,
                rules(t.jurisdiction)[2].team_city_monthly,
                done,
                linked_city=t.linked_city,
            )
    if period.kind == "quarter":
        for t in team_rows:
            r = rules(t.jurisdiction)[2]
            keys = json.loads(t.key_enterprises)
            seen = _visited(s, period, keys, team_id=t.id)
            names = dict(
                s.execute(
                    select(enterprises.c.credit_code, enterprises.c.name).where(
                        enterprises.c.credit_code.in_(keys)
                    )
                ).all()
            )
            for code in keys:
                row(
                    "team_key_quarterly",
                    "team_key_enterprise",
                    f"{t.id}/{code}",
                    names.get(code, code),
                    t.jurisdiction,
                    r.team_key_quarterly,
                    seen.get(code, 0),
                    team_id=t.id,
                )
            coverage.append(
                {
                    "team_id": t.id,
                    "team_name": t.name,
                    "linked": len(keys),
                    "minimum": r.team_min_key_enterprises,
                    "enough_linked": len(keys) >= r.team_min_key_enterprises,
                    "visited": sum(1 for c in keys if seen.get(c)),
                    "coverage": round(sum(1 for c in keys if seen.get(c)) / len(keys), 4)
                    if keys
                    else None,
                }
            )
        for d in depts:
            if not d.leader_staff_id:
                continue
            leader = s.execute(select(units).where(units.c.id == d.leader_staff_id)).first()
            linked = list(
                s.execute(
                    select(enterprise_links.c.enterprise_credit_code).where(
                        enterprise_links.c.unit_type == "department",
                        enterprise_links.c.unit_id == d.id,
                    )
                ).scalars()
            )
            done = _visits_to(s, period, linked, staff_id=d.leader_staff_id)
            required = rules(d.jurisdiction)[2].leader_quarterly if linked else 0
            row(
                "leader_quarterly",
                "leader",
                f"{d.id}/{d.leader_staff_id}",  # one leader may lead two departments
                leader.name if leader else d.leader_staff_id,
                d.jurisdiction,
                required,
                done,
                department_id=d.id,
                linked_enterprises=len(linked),
            )
    return out, coverage


def flag_overdue(svc: Service, today: date | None = None) -> int:
    """Announce ``visit.overdue`` once for every subject short in a period that closed
    (the last week, month and quarter), per province in the data. The evaluation reads;
    each flag is claimed in its own short transaction (no long write lock, and several
    workers announce each flag once)."""
    today = today or china_today()
    shortfalls: dict[str, int] = dict.fromkeys(RULE_KINDS, 0)
    short: list[tuple[Period, dict[str, Any]]] = []
    with svc.db.session() as s:
        roots = sorted(
            {code[:2] + "0000" for code in s.execute(select(units.c.jurisdiction)).scalars()}
            | {code[:2] + "0000" for code in s.execute(select(teams.c.jurisdiction)).scalars()}
        )
        for kind in ("week", "month", "quarter"):
            period = previous_period(today, kind)
            for root in roots:
                rows, _ = evaluate(s, period, root, today)
                for r in rows:
                    if r["status"] == "short":
                        shortfalls[r["rule"]] += 1
                        short.append((period, r))
    flagged = 0
    for period, r in short:
        with svc.uow() as uow:
            if not claim(
                uow.session,
                uow.db,
                overdue_flags,
                rule=r["rule"],
                subject_id=r["subject_id"],
                period=period.label,
                jurisdiction=r["jurisdiction"],
                shortfall=r["shortfall"],
                at=datetime.now(UTC),
            ):
                continue
            uow.emit(
                contract.visit_overdue(
                    jurisdiction=r["jurisdiction"],
                    payload={
                        "rule": r["rule"],
                        "rule_version": r["rule_version"],
                        "subject_type": r["subject_type"],
                        "subject_id": r["subject_id"],
                        "subject_name": r["subject_name"],
                        "period": period.label,
                        "required_count": r["required"],
                        "done": r["done"],
                        "shortfall": r["shortfall"],
                        "source": r["source"],
                    },
                )
            )
            uow.commit()
            flagged += 1
    for rule, n in shortfalls.items():
        SHORTFALLS.labels(rule).set(n)
    return flagged


def run(svc: Service) -> None:
    """The visits worker's periodic job."""
    today = china_today()
    miss_overdue_plans(svc, today)
    flag_overdue(svc, today)
