"""Scoring's consumers (``f(event, uow)``, called through the inbox): every event that
can earn or explain a point becomes a fact.

Demand facts are kept per demand and attributed to the owner of their day whenever a fact
or an owner arrives (``attribution``), so the order events arrive in does not matter.
"""

from __future__ import annotations

import json
from datetime import UTC, date, datetime
from typing import Any

from sqlalchemy import insert, select, update

from services.scoring.attribution import attribute_later
from services.scoring.domain.facts import CO_HANDLED, demand_item, period_of
from services.scoring.models import (
    demand_facts,
    demand_owners,
    enterprises,
    manual_records,
    owner_history,
    rule_sets,
    tally_records,
    tier_history,
    units,
    visit_enterprises,
    visit_heads,
)
from shared.db import UnitOfWork, claim, claim_later, upsert, upsert_later
from shared.events import Event
from shared.timezone import CHINA, china_today

t = tally_records


def _fact(
    uow: UnitOfWork,
    event: Event,
    fact: str,
    demand_code: str,
    at: datetime,
    *,
    category: str | None = None,
    credit_code: str | None = None,
    value: int | None = None,
) -> None:
    """Store a demand fact once (written later: a batch's facts go in one executemany)
    and have the demand attributed (``attribute_later``: once per transaction, however
    many facts; it reads the facts, so they are written before it)."""
    claim_later(
        uow,
        demand_facts,
        event_id=event.event_id,
        fact=fact,
        demand_code=demand_code,
        jurisdiction=event.jurisdiction,
        category=category,
        credit_code=credit_code,
        period=period_of(at),
        value=value,
        at=at,
    )
    attribute_later(uow, demand_code)


def _at(p: dict[str, Any], key: str, event: Event) -> datetime:
    return datetime.fromisoformat(p[key]) if p.get(key) else event.occurred_at


def on_demand_accepted(event: Event, uow: UnitOfWork) -> None:
    p = event.payload
    _fact(
        uow,
        event,
        "accepted",
        p["demand_code"],
        _at(p, "accepted_at", event),
        category=p["category"],
        credit_code=p["enterprise"]["credit_code"],
    )


def on_assignment_made(event: Event, uow: UnitOfWork) -> None:
    """An owner assignment: the demand's owner, and the demand *collected*; an agency
    assignment: the demand *matched* (to a market service)."""
    p = event.payload
    at = _at(p, "assigned_at", event)
    if p["kind"] == "owner":
        values = {
            "unit_type": p["assignee_type"],
            "unit_id": p["assignee_id"],
            "unit_name": p["assignee_name"],
            "jurisdiction": event.jurisdiction,
            "category": p["category"],
        }
        upsert_later(uow, demand_owners, {"demand_code": p["demand_code"]}, values)
        claim_later(
            uow,
            owner_history,
            event_id=event.event_id,
            demand_code=p["demand_code"],
            since=at,
            unit_type=p["assignee_type"],
            unit_id=p["assignee_id"],
            unit_name=p["assignee_name"],
        )
        if not p.get("replaces"):  # a transfer's new owner did not collect the demand
            _fact(uow, event, "collected", p["demand_code"], at, category=p["category"])
        attribute_later(uow, p["demand_code"])  # the new owner takes the facts of its days
    else:
        _fact(uow, event, "matched", p["demand_code"], at, category=p["category"])


def on_demand_screened(event: Event, uow: UnitOfWork) -> None:
    p = event.payload
    _fact(uow, event, "analysed", p["demand_code"], _at(p, "at", event))


def on_demand_status_changed(event: Event, uow: UnitOfWork) -> None:
    """In progress: the demand was *published* to those who can solve it (our reading of
    A.1's stage); closed: on time or not, and *solved* when its resolution says so."""
    p = event.payload
    at = _at(p, "at", event)
    if p["to_status"] == "in_progress" and p["from_status"] == "accepted":
        _fact(uow, event, "published", p["demand_code"], at, category=p["category"])
    if p["to_status"] == "closed":
        on_time = p.get("on_time")
        _fact(
            uow,
            event,
            "closed",
            p["demand_code"],
            at,
            category=p["category"],
            value=None if on_time is None else int(bool(on_time)),
        )
        if p.get("resolution") == "solved":
            _fact(uow, event, "solved", p["demand_code"], at, category=p["category"])


def on_demand_revisited(event: Event, uow: UnitOfWork) -> None:
    p = event.payload
    _fact(uow, event, "rating", p["demand_code"], _at(p, "at", event), value=p["rating"])


def on_visit_logged(event: Event, uow: UnitOfWork) -> None:
    """A visit counts for the staff member who made it and for their department, in the
    month it took place; the enterprises it served count for coverage. A revision
    (``visit.revised``) replaces what the earlier version counted."""
    p = event.payload
    head = uow.session.execute(
        select(visit_heads.c.version)
        .where(visit_heads.c.visit_id == p["visit_id"])
        .with_for_update()
    ).scalar()
    if head is not None and head >= p["version"]:
        return  # an older version arriving late: the newer one already counts
    if head is None:
        uow.session.execute(
            insert(visit_heads).values(visit_id=p["visit_id"], version=p["version"])
        )
    else:
        uow.session.execute(
            update(visit_heads)
            .where(visit_heads.c.visit_id == p["visit_id"])
            .values(version=p["version"])
        )
        uow.session.execute(t.delete().where(t.c.visit_id == p["visit_id"]))
        uow.session.execute(
            visit_enterprises.delete().where(visit_enterprises.c.visit_id == p["visit_id"])
        )
    month, day = p["visited_on"][:7], date.fromisoformat(p["visited_on"])
    for unit_type, unit_id, name in (
        ("staff", p.get("staff_id"), p.get("staff_name")),
        ("department", p.get("department_id"), p.get("department_name")),
    ):
        if not unit_id:
            continue
        uow.session.execute(
            insert(t).values(
                event_id=event.event_id,
                unit_type=unit_type,
                unit_id=unit_id,
                unit_name=name or unit_id,
                jurisdiction=event.jurisdiction,
                period=month,
                day=day,
                item="visits",
                stage="logged",
                demand_code=None,
                visit_id=p["visit_id"],
                recorded_at=datetime.now(UTC),
            )
        )
    for e in p["enterprises"]:
        claim(
            uow.session,
            uow.db,
            visit_enterprises,
            event_id=event.event_id,
            credit_code=e["credit_code"],
            jurisdiction=e["jurisdiction"],
            period=month,
            day=day,
            visit_id=p["visit_id"],
        )


def on_cohandling_reported(event: Event, uow: UnitOfWork) -> None:
    """A co-handling department reported its task on a complex demand done (XN 联合处置):
    its fact, in the month of its feedback — a demand it helped solve
    (``facts.CO_HANDLED``). An expert's or an institute's work is kept by the archive and
    the demand's co-handlers, but scores no unit (A.1 scores departments and staff), and a
    task the co-handler could not do scores nothing."""
    p = event.payload
    if p["kind"] != "department" or p.get("outcome") != "done":
        return
    at = _at(p, "at", event)
    uow.session.execute(
        insert(t).values(
            event_id=event.event_id,
            unit_type="department",
            unit_id=p["cohandler_id"],
            unit_name=p["cohandler_name"],
            jurisdiction=p.get("cohandler_jurisdiction") or event.jurisdiction,
            period=period_of(at),
            day=at.astimezone(CHINA).date(),
            item=demand_item(p["category"]),
            stage=CO_HANDLED,
            demand_code=p["demand_code"],
            visit_id=None,
            recorded_at=at,
        )
    )


def on_unit(event: Event, uow: UnitOfWork) -> None:
    """Departments and staff as dispatch's map announces them (the units scored)."""
    p = event.payload
    kind = "department" if event.event_type == "department.updated" else "staff"
    upsert(
        uow.session,
        units,
        {"id": p["id"]},
        {"type": kind, "name": p["name"], "jurisdiction": p["jurisdiction"]},
    )


def on_enterprise(event: Event, uow: UnitOfWork) -> None:
    """The registry's figures the KPIs count, and each growth-tier change, dated."""
    p = event.payload
    old = uow.session.execute(
        select(enterprises.c.growth_tier).where(enterprises.c.credit_code == p["credit_code"])
    ).first()
    upsert(
        uow.session,
        enterprises,
        {"credit_code": p["credit_code"]},
        {
            "jurisdiction": p["jurisdiction"],
            "growth_tier": p.get("growth_tier"),
            "needs_named_person": p["needs_named_person"],
            "needs_one_plan": p["needs_one_plan"],
        },
    )
    if old is None or old.growth_tier != p.get("growth_tier"):
        claim(
            uow.session,
            uow.db,
            tier_history,
            event_id=event.event_id,
            credit_code=p["credit_code"],
            growth_tier=p.get("growth_tier"),
            since=china_today(event.occurred_at),
            at=event.occurred_at,
        )


def on_record_entered(event: Event, uow: UnitOfWork) -> None:
    """Scoring's own announcement of a manual record: already stored when it came from
    this API; stored now when scoring is being rebuilt from the archive."""
    p = event.payload
    claim(
        uow.session,
        uow.db,
        manual_records,
        id=p["id"],
        unit_type=p["unit_type"],
        unit_id=p["unit_id"],
        jurisdiction=p["jurisdiction"],
        period=p["period"],
        kind=p["kind"],
        value=p["value"],
        evidence=p["evidence"],
        note=p["note"],
        actor=p["actor"],
        at=datetime.fromisoformat(p["at"]),
    )


def on_record_retracted(event: Event, uow: UnitOfWork) -> None:
    p = event.payload
    uow.session.execute(
        update(manual_records)
        .where(manual_records.c.id == p["id"], manual_records.c.retracted_at.is_(None))
        .values(
            retracted_at=datetime.fromisoformat(p["at"]),
            retracted_by=p["actor"],
            retract_reason=p["reason"],
        )
    )


def on_rule_set_published(event: Event, uow: UnitOfWork) -> None:
    p = event.payload
    claim(
        uow.session,
        uow.db,
        rule_sets,
        jurisdiction=p["jurisdiction"],
        version=p["version"],
        effective_from=date.fromisoformat(p["effective_from"]),
        body=json.dumps(p["body"], ensure_ascii=False),
        published_by=p["actor"],
        published_at=datetime.fromisoformat(p["at"]),
    )
