"""Compliance with the frequency rules: the report for a period and a subtree, and the
overdue sweep that announces, once, every subject short in a period that closed.

The queries here gather the facts (``gather``); ``services.visits.assessment`` computes
the items from them."""

from __future__ import annotations

import json
from collections import Counter, defaultdict
from datetime import UTC, date, datetime
from typing import Any

from sqlalchemy import Table, func, select
from sqlalchemy.orm import Session

from services.visits.assessment import (
    Department,
    Facts,
    KeyEnterprise,
    OnDuty,
    Team,
    assess,
)
from services.visits.domain import RULE_KINDS, Period, period_arg, previous_period
from services.visits.metrics import SHORTFALLS
from services.visits.models import (
    duty_days,
    enterprise_links,
    enterprises,
    overdue_flags,
    stations,
    teams,
    units,
    visit_enterprises,
    visits,
)
from services.visits.rules import rules_for
from shared.auth import Principal
from shared.contracts import visits as contract
from shared.db import UnitOfWork, claim
from shared.events import subtree_prefix
from shared.scoping import require_visible
from shared.timezone import china_today

ve = visit_enterprises.c


def compliance(uow: UnitOfWork, actor: Principal, args: dict[str, Any]) -> dict[str, Any]:
    """For each rule of the period's granularity and each subject in the subtree:
    required, done, shortfall, status (met / short once the period closed / open)."""
    period = period_arg(args["period"])
    root = args.get("jurisdiction") or actor.jurisdiction
    require_visible(actor, root)
    with uow.read() as s:
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
    s: Session, period: Period, root: str, today: date
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """The compliance items of ``root``'s subtree in ``period`` as of ``today``, and the
    teams' key-enterprise coverage (quarters)."""
    return assess(gather(s, period, root), today)


# --- the facts -------------------------------------------------------------------------------


def gather(s: Session, period: Period, root: str) -> Facts:
    """What the period's rules count in the subtree, and the rules in force at the
    period's start for every jurisdiction among the subjects."""
    prefix = subtree_prefix(root)
    if period.kind == "week":
        facts = Facts(
            period,
            departments=weekly_departments(s, period, prefix),
            on_duty=on_duty(s, period, prefix),
        )
    elif period.kind == "month":
        facts = Facts(period, teams=team_facts(s, period, prefix))
    elif period.kind == "quarter":
        facts = Facts(
            period,
            teams=team_facts(s, period, prefix),
            departments=leaders(s, period, prefix),
        )
    else:
        facts = Facts(period)
    rules = {j: rules_for(s, j, period.start)[1:] for j in sorted(facts.places())}
    return Facts(period, rules, facts.departments, facts.on_duty, facts.teams)


def _in(column: Any, period: Period) -> Any:
    return column.between(period.start, period.end)


def _departments(s: Session, prefix: str) -> list[Any]:
    return list(
        s.execute(
            select(units)
            .where(units.c.type == "department", units.c.jurisdiction.startswith(prefix))
            .order_by(units.c.id)
        ).all()
    )


def _names(s: Session, table: Table, key: Any, ids: set[str]) -> dict[str, str]:
    return {k: n for k, n in s.execute(select(key, table.c.name).where(key.in_(sorted(ids))))}


def weekly_departments(s: Session, period: Period, prefix: str) -> tuple[Department, ...]:
    """Every department of the subtree with its visits in the period."""
    depts = _departments(s, prefix)
    counts = {
        dept: int(n)
        for dept, n in s.execute(
            select(visits.c.department_id, func.count())
            .where(
                visits.c.department_id.in_([d.id for d in depts]), _in(visits.c.visited_on, period)
            )
            .group_by(visits.c.department_id)
        )
    }
    return tuple(
        Department(d.id, d.name, d.jurisdiction, visits=counts.get(d.id, 0)) for d in depts
    )


def on_duty(s: Session, period: Period, prefix: str) -> tuple[OnDuty, ...]:
    """Every station's staff member, station by station, with their days on duty there."""
    rows = s.execute(
        select(stations).where(stations.c.jurisdiction.startswith(prefix)).order_by(stations.c.id)
    ).all()
    staff = {st.id: json.loads(st.staff_ids) for st in rows}
    names = _names(s, units, units.c.id, {i for ids in staff.values() for i in ids})
    days: dict[tuple[str, str], list[date]] = defaultdict(list)
    d = duty_days.c
    for station_id, staff_id, day in s.execute(
        select(d.station_id, d.staff_id, d.day).where(
            d.station_id.in_(list(staff)), _in(d.day, period)
        )
    ):
        days[(station_id, staff_id)].append(day)
    return tuple(
        OnDuty(st.id, st.jurisdiction, i, names.get(i, i), tuple(sorted(days[(st.id, i)])))
        for st in rows
        for i in staff[st.id]
    )


def _teams(s: Session, prefix: str) -> list[Any]:
    return list(
        s.execute(
            select(teams).where(teams.c.jurisdiction.startswith(prefix)).order_by(teams.c.id)
        ).all()
    )


def _team_visits(s: Session, period: Period, team_ids: list[str]) -> list[Any]:
    """(team, visit, enterprise, its jurisdiction) of the teams' visits in the period."""
    return list(
        s.execute(
            select(visits.c.team_id, ve.visit_id, ve.credit_code, ve.enterprise_jurisdiction)
            .join(visits, visits.c.id == ve.visit_id)
            .where(visits.c.team_id.in_(team_ids), _in(ve.visited_on, period))
        ).all()
    )


def team_facts(s: Session, period: Period, prefix: str) -> tuple[Team, ...]:
    """Every team of the subtree with its trips to its linked city (distinct visits) and
    its key enterprises with its visits to each."""
    rows = _teams(s, prefix)
    keys = {t.id: json.loads(t.key_enterprises) for t in rows}
    names = _names(s, enterprises, enterprises.c.credit_code, {c for k in keys.values() for c in k})
    trips = _team_visits(s, period, list(keys))
    seen = Counter((v.team_id, v.credit_code) for v in trips)
    return tuple(
        Team(
            t.id,
            t.name,
            t.jurisdiction,
            t.linked_city,
            city_visits=len(
                {
                    v.visit_id
                    for v in trips
                    if v.team_id == t.id
                    and v.enterprise_jurisdiction.startswith(subtree_prefix(t.linked_city))
                }
            ),
            key_enterprises=tuple(
                KeyEnterprise(c, names.get(c, c), seen[(t.id, c)]) for c in keys[t.id]
            ),
        )
        for t in rows
    )


def leaders(s: Session, period: Period, prefix: str) -> tuple[Department, ...]:
    """Every department of the subtree with a leader: the enterprises linked to it and
    the leader's visits to one or more of them in the period."""
    depts = [d for d in _departments(s, prefix) if d.leader_staff_id]
    names = _names(s, units, units.c.id, {d.leader_staff_id for d in depts})
    el = enterprise_links.c
    linked: dict[str, set[str]] = defaultdict(set)
    for unit_id, code in s.execute(
        select(el.unit_id, el.enterprise_credit_code).where(
            el.unit_type == "department", el.unit_id.in_([d.id for d in depts])
        )
    ):
        linked[unit_id].add(code)
    trips = s.execute(
        select(visits.c.staff_id, ve.visit_id, ve.credit_code)
        .join(visits, visits.c.id == ve.visit_id)
        .where(
            visits.c.staff_id.in_(sorted({d.leader_staff_id for d in depts})),
            _in(ve.visited_on, period),
        )
    ).all()
    return tuple(
        Department(
            d.id,
            d.name,
            d.jurisdiction,
            leader_id=d.leader_staff_id,
            leader_name=names.get(d.leader_staff_id),
            linked=len(linked[d.id]),
            leader_visits=len(
                {
                    v.visit_id
                    for v in trips
                    if v.staff_id == d.leader_staff_id and v.credit_code in linked[d.id]
                }
            ),
        )
        for d in depts
    )


# --- the overdue sweep -----------------------------------------------------------------------


def provinces(codes: list[str]) -> list[str]:
    """The provinces of these jurisdictions, each once, in order."""
    return sorted({code[:2] + "0000" for code in codes})


def overdue_payload(period: Period, item: dict[str, Any]) -> dict[str, Any]:
    """The ``visit.overdue`` payload of a subject short in a closed period."""
    return {
        "rule": item["rule"],
        "rule_version": item["rule_version"],
        "subject_type": item["subject_type"],
        "subject_id": item["subject_id"],
        "subject_name": item["subject_name"],
        "period": period.label,
        "required_count": item["required"],
        "done": item["done"],
        "shortfall": item["shortfall"],
        "source": item["source"],
    }


def short_items(s: Session, today: date) -> list[tuple[Period, dict[str, Any]]]:
    """Every subject short in the last closed week, month and quarter, per province in
    the data."""
    roots = provinces(
        list(s.execute(select(units.c.jurisdiction)).scalars())
        + list(s.execute(select(teams.c.jurisdiction)).scalars())
    )
    short: list[tuple[Period, dict[str, Any]]] = []
    for kind in ("week", "month", "quarter"):
        period = previous_period(today, kind)
        for root in roots:
            rows, _ = evaluate(s, period, root, today)
            short.extend((period, r) for r in rows if r["status"] == "short")
    return short


def flag_overdue(uow: UnitOfWork, today: date | None = None) -> int:
    """Announce ``visit.overdue`` once for every subject short in a period that closed
    (the last week, month and quarter), per province in the data. The evaluation reads;
    each flag is claimed in its own short transaction (no long write lock, and several
    workers announce each flag once)."""
    today = today or china_today()
    with uow.read() as s:
        short = short_items(s, today)
    flagged = 0
    for period, r in short:
        with uow:
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
                    jurisdiction=r["jurisdiction"], payload=overdue_payload(period, r)
                )
            )
            uow.commit()
            flagged += 1
    counts = Counter(r["rule"] for _, r in short)
    for rule in RULE_KINDS:
        SHORTFALLS.labels(rule).set(counts[rule])
    return flagged
