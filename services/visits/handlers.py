"""Visits' event consumers: who is responsible for which enterprise (owner
assignments), the departments, staff and enterprises as their owners announce them, and
the demands intake created from a visit, linked back to it. Each is called by the inbox
with ``(event, uow)``, once per event."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import bindparam, delete, insert, select, update
from sqlalchemy.orm import Session

from services.visits.domain import EnterpriseLink, link_owner
from services.visits.models import (
    demands,
    enterprise_links,
    enterprises,
    standing_versions,
    units,
    visit_demands,
)
from shared.contracts import visits as contract
from shared.db import UnitOfWork, claim, claim_later, upsert, write_later
from shared.events import Event

t = enterprise_links


# one enterprise's link to one unit, read and written by key (built once; values bound)
_LINK_KEY = (
    (t.c.enterprise_credit_code == bindparam("k_enterprise"))
    & (t.c.unit_type == bindparam("k_unit_type"))
    & (t.c.unit_id == bindparam("k_unit_id"))
)
INSERT_LINK = insert(t)
UPDATE_LINK = update(t).where(_LINK_KEY)
READ_LINKS = select(t).where(t.c.enterprise_credit_code.in_(bindparam("codes", expanding=True)))


@dataclass
class LinkReads:
    """The links of a transaction's enterprises to their units, read at once for a
    consumer's batch of owner assignments (``prepare_links``): each assignment is folded
    into them in turn and written later (``write_later``), so a batch reads once and
    writes in one executemany per statement. Only these handlers write the links of a
    batch's enterprises in the transaction, and each keeps ``links`` up to date."""

    enterprises: set[str]
    links: dict[tuple[str, str, str], EnterpriseLink]

    @classmethod
    def load(cls, session: Session, events: Sequence[Event]) -> LinkReads:
        codes = {
            e.payload["enterprise_credit_code"] for e in events if e.payload["kind"] == "owner"
        }
        rows = session.execute(READ_LINKS, {"codes": sorted(codes)}).mappings()
        links = {
            (r["enterprise_credit_code"], r["unit_type"], r["unit_id"]): EnterpriseLink(**r)
            for r in rows
        }
        return cls(codes, links)


def prepare_links(uow: UnitOfWork, events: Sequence[Event]) -> None:
    """``assignment.made``'s prepare: the links of all the events' enterprises."""
    uow.memo[LinkReads] = LinkReads.load(uow.session, events)


def on_assignment_made(event: Event, uow: UnitOfWork) -> None:
    """An owner assignment makes that unit responsible for visiting the enterprise."""
    p = event.payload
    if p["kind"] != "owner":
        return
    new = EnterpriseLink(
        enterprise_credit_code=p["enterprise_credit_code"],
        unit_type=p["assignee_type"],
        unit_id=p["assignee_id"],
        unit_name=p["assignee_name"],
        jurisdiction=event.jurisdiction,
        since=datetime.fromisoformat(p["assigned_at"]),
        last_demand_code=p["demand_code"],
    )
    reads = uow.memo.get(LinkReads)
    if reads is None or new.enterprise_credit_code not in reads.enterprises:
        reads = LinkReads.load(uow.session, [event])
    key = (new.enterprise_credit_code, new.unit_type, new.unit_id)
    existing = reads.links.get(key)
    merged = reads.links[key] = link_owner(existing, new)
    if existing is None:
        write_later(uow, INSERT_LINK, asdict(merged))
    else:
        where = {"k_enterprise": key[0], "k_unit_type": key[1], "k_unit_id": key[2]}
        write_later(uow, UPDATE_LINK, {**where, **asdict(merged)})


def on_responsibility_linked(event: Event, uow: UnitOfWork) -> None:
    """The enterprise's standing 包保 link (dispatch's map): its department and named person
    are responsible for visiting it from now on, before any demand; the units it named
    before lose the standing (their demand links stay). A version older than the one
    applied changes nothing, whatever order the events arrive in."""
    p = event.payload
    code = p["credit_code"]
    sv = standing_versions.c
    seen = uow.session.execute(select(sv.version).where(sv.enterprise_credit_code == code)).scalar()
    if seen is not None and seen >= p["version"]:
        return
    since = datetime.fromisoformat(p["since"])
    upsert(
        uow.session,
        standing_versions,
        {"enterprise_credit_code": code},
        {
            "version": p["version"],
            "department_id": p["department_id"],
            "staff_id": p["staff_id"],
            "basis": p["basis"],
            "since": since,
        },
    )
    mine = t.c.enterprise_credit_code == code
    uow.session.execute(
        update(t).where(mine, t.c.standing.is_(True)).values(standing=False, basis=None)
    )
    uow.session.execute(delete(t).where(mine, t.c.demand_count == 0, t.c.standing.is_(False)))
    for unit_type, unit_id, name in (
        ("department", p["department_id"], p["department_name"]),
        ("staff", p["staff_id"], p["staff_name"]),
    ):
        if unit_id is None:
            continue
        key = mine & (t.c.unit_type == unit_type) & (t.c.unit_id == unit_id)
        values = {"standing": True, "basis": p["basis"], "unit_name": name or unit_id}
        if uow.session.execute(select(t.c.unit_id).where(key)).first() is None:
            link = EnterpriseLink(
                enterprise_credit_code=code,
                unit_type=unit_type,
                unit_id=unit_id,
                unit_name=values["unit_name"],
                jurisdiction=event.jurisdiction,
                since=since,
                last_demand_code=None,
                demand_count=0,
                standing=True,
                basis=p["basis"],
            )
            uow.session.execute(insert(t).values(**asdict(link)))
        else:
            uow.session.execute(update(t).where(key).values(**values))


def on_department(event: Event, uow: UnitOfWork) -> None:
    """Keep the department (its jurisdiction and leader) as dispatch's map announces it."""
    p = event.payload
    _upsert_unit(
        uow,
        p["id"],
        type="department",
        name=p["name"],
        jurisdiction=p["jurisdiction"],
        leader_staff_id=p.get("leader_staff_id"),
    )


def on_staff(event: Event, uow: UnitOfWork) -> None:
    p = event.payload
    _upsert_unit(
        uow,
        p["id"],
        type="staff",
        name=p["name"],
        jurisdiction=p["jurisdiction"],
        department_id=p["department_id"],
        title=p.get("title"),
    )


def _upsert_unit(uow: UnitOfWork, unit_id: str, **values: Any) -> None:
    upsert(uow.session, units, {"id": unit_id}, values)


def on_enterprise(event: Event, uow: UnitOfWork) -> None:
    p = event.payload
    values = {"name": p["name"], "jurisdiction": p["jurisdiction"], "is_key": p["is_key"]}
    upsert(uow.session, enterprises, {"credit_code": p["credit_code"]}, values)


def on_demand_accepted(event: Event, uow: UnitOfWork) -> None:
    """A demand intake created from a visit is linked back to it (and announced, so the
    demand's archive trace shows the visit)."""
    p = event.payload
    claim_later(  # a batch's demands in one executemany
        uow,
        demands,
        code=p["demand_code"],
        jurisdiction=event.jurisdiction,
        credit_code=p["enterprise"]["credit_code"],
    )
    visit_id = p.get("visit_id")
    if not visit_id:
        return
    now = datetime.now(UTC)
    if not claim(
        uow.session,
        uow.db,
        visit_demands,
        visit_id=visit_id,
        demand_code=p["demand_code"],
        link="raised",
        at=now,
    ):
        return
    uow.emit(
        contract.demand_linked(
            jurisdiction=event.jurisdiction,
            correlation_id=event.correlation_id,
            payload={
                "visit_id": visit_id,
                "demand_code": p["demand_code"],
                "link": "raised",
                "credit_code": p["enterprise"]["credit_code"],
                "at": now.isoformat(),
            },
        )
    )
