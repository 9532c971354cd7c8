"""Standing 包保 links: every enterprise owned by a department (and its named person)
before any demand (XN 固定包保责任区域; XM 挂钩联系; SX 重点企业专人包保).

A link is made by the segment rules (``segments.rule_link``) when the enterprise is
registered or updated and when a department's segments change, or set explicitly by an
office (an explicit link beats the rules until removed). Every change is a new version
of the enterprise's link: kept in ``standing_link_history`` (with ``until``) and
announced (``responsibility.linked``) through the outbox in the same transaction; visits
follows it at once. A new demand's owner follows the link (``demand_owner``).

A transfer (a staff member leaves) moves every enterprise linked to that person — their
named 专人包保 enterprises and their explicit links — and their open owner assignments
(each replaced by a new one, ``replaces`` naming the old) to a person of the same unit
or below. Scoring attributes every fact to the owner named when it happened, so the old
person's scorecards keep their facts.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from services.dispatch.domain import Department, OwnerDecision, Person
from services.dispatch.models import (
    assignments,
    departments,
    enterprises,
    staff,
    standing_link_history,
    standing_links,
)
from services.dispatch.segments import EXPLICIT, Profile, follows_link, rule_link
from shared.auth import Principal
from shared.contracts import dispatch as contract
from shared.db import UnitOfWork, upsert
from shared.events import in_subtree, subtree_prefix
from shared.pagination import cursor_key, encode_cursor
from shared.scoping import require_visible
from shared.usecases import Invalid, NotFound

NONE = "none"  # the basis of a link to nothing (no department owns the enterprise)
L, H = standing_links.c, standing_link_history.c


@dataclass(frozen=True)
class Link:
    department_id: str | None
    staff_id: str | None
    basis: str


# --- making links ---------------------------------------------------------------------------


def _departments(s: Session, codes: set[str]) -> list[Department]:
    """The departments of the provinces of these jurisdictions (the rule filters the path)."""
    provinces = sorted({c[:2] for c in codes})
    rows = s.execute(
        select(departments).where(
            or_(*[departments.c.jurisdiction.startswith(p) for p in provinces])
        )
    ).all()
    return [
        Department(
            r.id, r.jurisdiction, r.name, tuple(x for x in r.segments.split(",") if x), r.is_default
        )
        for r in rows
    ]


def computed(ent: Any, depts: list[Department], current: Any | None) -> Link:
    """The link an enterprise should have: its explicit one while it has one, else the
    rules' department with the enterprise's named person (专人包保), if any."""
    if current is not None and current.basis == EXPLICIT:
        return Link(current.department_id, current.staff_id, EXPLICIT)
    profile = Profile(
        jurisdiction=ent.jurisdiction,
        growth_tier=ent.growth_tier,
        technology_field=ent.technology_field,
        is_key=ent.is_key,
        needs_named_person=ent.needs_named_person,
        needs_one_plan=ent.needs_one_plan,
    )
    found = rule_link(profile, depts)
    if found is None:
        return Link(None, None, NONE)
    return Link(found.department.id, ent.named_staff_id, found.basis)


def _name(s: Session, table: Any, key: str | None) -> str | None:
    if key is None:
        return None
    return s.execute(select(table.c.name).where(table.c.id == key)).scalar()


def apply(
    uow: UnitOfWork, ent: Any, link: Link, current: Any | None, *, actor: str, reason: str
) -> bool:
    """Make ``link`` the enterprise's current link — a new version, its history row and
    its event — unless it already is (False)."""
    if current is not None and (current.department_id, current.staff_id, current.basis) == (
        link.department_id,
        link.staff_id,
        link.basis,
    ):
        return False
    if current is None and link.basis == NONE:
        return False  # never owned, still not
    s = uow.session
    now = datetime.now(UTC)
    version = (current.version if current is not None else 0) + 1
    row = {
        "department_id": link.department_id,
        "staff_id": link.staff_id,
        "basis": link.basis,
        "since": now,
        "by": actor[:120],
        "reason": reason[:500],
    }
    upsert(
        s,
        standing_links,
        {"credit_code": ent.credit_code},
        {
            **row,
            "jurisdiction": ent.jurisdiction,
            "version": version,
        },
    )
    if current is not None:
        s.execute(
            update(standing_link_history)
            .where(H.credit_code == ent.credit_code, H.version == current.version)
            .values(until=now)
        )
    s.execute(
        standing_link_history.insert().values(credit_code=ent.credit_code, version=version, **row)
    )
    previous = (
        {
            "department_id": current.department_id,
            "staff_id": current.staff_id,
            "basis": current.basis,
        }
        if current is not None
        else None
    )
    uow.emit(
        contract.responsibility_linked(
            jurisdiction=ent.jurisdiction,
            payload={
                "credit_code": ent.credit_code,
                "department_id": link.department_id,
                "department_name": _name(s, departments, link.department_id),
                "staff_id": link.staff_id,
                "staff_name": _name(s, staff, link.staff_id),
                "basis": link.basis,
                "version": version,
                "since": now.isoformat(),
                "previous": previous,
                "actor": row["by"],
                "reason": row["reason"],
            },
        )
    )
    return True


def relink(
    uow: UnitOfWork,
    *,
    codes: list[str] | None = None,
    within: str | None = None,
    actor: str,
    reason: str,
) -> int:
    """Bring the links of these enterprises (``codes``) or of every enterprise in a
    subtree (``within``) up to date with the rules and the named persons, in the
    caller's transaction; how many changed."""
    s = uow.session
    q = select(enterprises)
    if codes is not None:
        q = q.where(enterprises.c.credit_code.in_(codes))
    if within is not None:
        q = q.where(enterprises.c.jurisdiction.startswith(subtree_prefix(within)))
    ents = s.execute(q.order_by(enterprises.c.credit_code)).all()
    if not ents:
        return 0
    depts = _departments(s, {e.jurisdiction for e in ents})
    current = {
        r.credit_code: r
        for r in s.execute(
            select(standing_links).where(L.credit_code.in_([e.credit_code for e in ents]))
        )
    }
    changed = 0
    for ent in ents:
        now = current.get(ent.credit_code)
        changed += apply(uow, ent, computed(ent, depts, now), now, actor=actor, reason=reason)
    return changed


BACKFILL_CHUNK = 500  # enterprises linked per transaction when the worker starts


def link_unlinked(uow_of: Any) -> int:
    """Link every enterprise that has no standing link yet (those known before links
    existed), a chunk per transaction in credit-code order; run when the dispatch worker
    starts. Idempotent (an enterprise no department owns stays without a link); a chunk
    another worker linked at the same moment is left to it. ``uow_of``: a callable
    giving a fresh unit of work."""
    linked, after = 0, ""
    while True:
        with uow_of() as uow:
            unlinked = select(enterprises.c.credit_code).where(
                enterprises.c.credit_code > after,
                ~select(L.credit_code).where(L.credit_code == enterprises.c.credit_code).exists(),
            )
            codes = list(
                uow.session.execute(
                    unlinked.order_by(enterprises.c.credit_code).limit(BACKFILL_CHUNK)
                ).scalars()
            )
            if not codes:
                return linked
            try:
                linked += relink(
                    uow, codes=codes, actor="dispatch", reason="linked by the rules on start"
                )
                uow.commit()
            except IntegrityError:  # another worker linked them first
                uow.rollback()
        after = codes[-1]


# --- the offices' commands --------------------------------------------------------------------


def _enterprise(s: Session, actor: Principal, credit_code: str) -> Any:
    ent = s.execute(select(enterprises).where(enterprises.c.credit_code == credit_code)).first()
    if ent is None or not actor.can_see(ent.jurisdiction):
        raise NotFound(f"No enterprise {credit_code} in your subtree (registered in intake?).")
    return ent


def _staff_row(s: Session, staff_id: str) -> Any:
    return s.execute(
        select(staff.c.id, staff.c.name, staff.c.department_id, departments.c.jurisdiction)
        .join(departments, departments.c.id == staff.c.department_id)
        .where(staff.c.id == staff_id)
    ).first()


def set_owner(
    uow: UnitOfWork, actor: Principal, credit_code: str, data: dict[str, Any]
) -> dict[str, Any]:
    """An office links an enterprise explicitly to a department (and optionally one of its
    staff; a staff member alone names their department); both null removes the explicit
    link and the rules decide again."""
    dept_id, staff_id = data.get("department_id"), data.get("staff_id")
    by = actor.key_id
    with uow:
        s = uow.session
        ent = _enterprise(s, actor, credit_code)
        current = s.execute(select(standing_links).where(L.credit_code == credit_code)).first()
        if dept_id is None and staff_id is None:
            if current is not None and current.basis == EXPLICIT:
                depts = _departments(s, {ent.jurisdiction})
                link = computed(ent, depts, None)
                apply(
                    uow,
                    ent,
                    link,
                    current,
                    actor=by,
                    reason=data["reason"] or "explicit link removed",
                )
        else:
            link = _explicit(s, actor, ent, dept_id, staff_id)
            apply(uow, ent, link, current, actor=by, reason=data["reason"] or "explicit link")
        uow.commit()
    return link_of(uow, actor, credit_code)


def _explicit(
    s: Session, actor: Principal, ent: Any, dept_id: str | None, staff_id: str | None
) -> Link:
    person = None
    if staff_id is not None:
        person = _staff_row(s, staff_id)
        if person is None or not actor.can_see(person.jurisdiction):
            raise Invalid.field("staff_id", "unknown staff id")
        dept_id = dept_id or person.department_id
    assert dept_id is not None
    dept = s.execute(select(departments).where(departments.c.id == dept_id)).first()
    if dept is None or not actor.can_see(dept.jurisdiction):
        raise Invalid.field("department_id", "unknown department")
    if person is not None and person.department_id != dept_id:
        raise Invalid.field("staff_id", f"not a member of department {dept_id}")
    if not in_subtree(ent.jurisdiction, dept.jurisdiction):
        raise Invalid.field(
            "department_id",
            f"department of {dept.jurisdiction}: the enterprise ({ent.jurisdiction}) is not in "
            "its area",
        )
    return Link(dept_id, staff_id, EXPLICIT)


def transfer(
    uow: UnitOfWork, actor: Principal, staff_id: str, data: dict[str, Any], *, correlation_id: str
) -> dict[str, Any]:
    """Move everything a staff member owns to another person of the same unit or below:
    the enterprises linked to them (named 专人包保 or explicit) and, unless
    ``open_assignments`` is false, their open owner assignments. A person of another
    unit is a 422 naming ``to_staff_id``."""
    to_id, reason = data["to_staff_id"], data["reason"]
    with uow:
        s = uow.session
        source = _staff_row(s, staff_id)
        if source is None or not actor.can_see(source.jurisdiction):
            raise NotFound(f"No staff member {staff_id} in your subtree.")
        target = _staff_row(s, to_id)
        if target is None or not actor.can_see(target.jurisdiction):
            raise Invalid.field("to_staff_id", "unknown staff id")
        if to_id == staff_id:
            raise Invalid.field("to_staff_id", "the same person: nothing to transfer")
        if not in_subtree(target.jurisdiction, source.jurisdiction):
            raise Invalid.field(
                "to_staff_id",
                f"a person of another unit ({target.jurisdiction}): enterprises move within "
                f"{source.jurisdiction} and the units below it",
            )
        why = f"transfer {staff_id} → {to_id}: {reason}"
        named = list(
            s.execute(
                select(enterprises.c.credit_code).where(enterprises.c.named_staff_id == staff_id)
            ).scalars()
        )
        s.execute(
            update(enterprises)
            .where(enterprises.c.named_staff_id == staff_id)
            .values(named_staff_id=to_id)
        )
        explicit = s.execute(
            select(standing_links).where(L.staff_id == staff_id, L.basis == EXPLICIT)
        ).all()
        ents = {
            e.credit_code: e
            for e in s.execute(
                select(enterprises).where(
                    enterprises.c.credit_code.in_([x.credit_code for x in explicit])
                )
            )
        }
        for cur in explicit:
            apply(
                uow,
                ents[cur.credit_code],
                Link(cur.department_id, to_id, EXPLICIT),
                cur,
                actor=actor.key_id,
                reason=why,
            )
        others = sorted(set(named) - set(ents))
        relink(uow, codes=others, actor=actor.key_id, reason=why)
        moved = (
            _move_assignments(uow, staff_id, target, why, correlation_id)
            if data["open_assignments"]
            else []
        )
        uow.commit()
    return {
        "from_staff_id": staff_id,
        "to_staff_id": to_id,
        "enterprises": sorted(set(named) | set(ents)),
        "assignments": moved,
        "reason": reason,
    }


def _move_assignments(
    uow: UnitOfWork, staff_id: str, target: Any, why: str, correlation_id: str
) -> list[str]:
    """Each open owner assignment of the person is replaced by one of the target's."""
    s = uow.session
    now = datetime.now(UTC)
    a = assignments.c
    rows = (
        s.execute(
            select(assignments).where(
                a.kind == "owner",
                a.assignee_type == "staff",
                a.assignee_id == staff_id,
                a.status == "open",
            )
        )
        .mappings()
        .all()
    )
    moved = []
    for old in rows:
        s.execute(
            update(assignments).where(a.id == old["id"]).values(status="reassigned", closed_at=now)
        )
        new = {
            **dict(old),
            "id": str(uuid.uuid4()),
            "assignee_id": target.id,
            "assignee_name": target.name,
            "reason": why[:500],
            "assigned_at": now,
            "replaces": old["id"],
        }
        s.execute(assignments.insert().values(**new))
        uow.emit(
            contract.assignment_made(
                jurisdiction=old["jurisdiction"],
                correlation_id=correlation_id,
                payload={
                    "assignment_id": new["id"],
                    "demand_code": new["demand_code"],
                    "kind": "owner",
                    "assignee_type": "staff",
                    "assignee_id": target.id,
                    "assignee_name": target.name,
                    "enterprise_credit_code": new["enterprise_credit_code"],
                    "category": new["category"],
                    "reason": new["reason"],
                    "assigned_at": now.isoformat(),
                    "due_at": new["due_at"].isoformat() if new["due_at"] else None,
                    "replaces": old["id"],
                },
            )
        )
        moved.append(new["id"])
    return moved


# --- reading ------------------------------------------------------------------------------


def responsibility_map(uow: UnitOfWork, actor: Principal, args: dict[str, Any]) -> dict[str, Any]:
    """The standing links of the actor's subtree (or ``jurisdiction`` within it), by credit
    code; ``department_id``, ``staff_id`` and ``segment`` (the basis' segment, or
    ``explicit``) filter; keyset pages."""
    root = args.get("jurisdiction") or actor.jurisdiction
    require_visible(actor, root)
    q = (
        select(
            standing_links,
            enterprises.c.name.label("enterprise_name"),
            departments.c.name.label("department_name"),
            staff.c.name.label("staff_name"),
        )
        .join(enterprises, enterprises.c.credit_code == L.credit_code)
        .outerjoin(departments, departments.c.id == L.department_id)
        .outerjoin(staff, staff.c.id == L.staff_id)
        .where(L.jurisdiction.startswith(subtree_prefix(root)), L.basis != NONE)
    )
    if args.get("department_id"):
        q = q.where(L.department_id == args["department_id"])
    if args.get("staff_id"):
        q = q.where(L.staff_id == args["staff_id"])
    if args.get("segment"):
        seg = args["segment"]
        q = q.where(L.basis == (EXPLICIT if seg == EXPLICIT else f"rule:{seg}"))
    key = cursor_key(args.get("cursor"), 1)
    if key is not None:
        q = q.where(L.credit_code > str(key[0]))
    limit = args["limit"]
    with uow.read() as s:
        rows = [dict(r) for r in s.execute(q.order_by(L.credit_code).limit(limit + 1)).mappings()]
    more = len(rows) > limit
    items = rows[:limit]
    return {
        "items": items,
        "next_cursor": encode_cursor([items[-1]["credit_code"]]) if more else None,
    }


def link_of(uow: UnitOfWork, actor: Principal, credit_code: str) -> dict[str, Any]:
    """One enterprise's current link and every version before it, oldest first."""
    with uow.read() as s:
        ent = _enterprise(s, actor, credit_code)
        cur = (
            s.execute(select(standing_links).where(L.credit_code == credit_code)).mappings().first()
        )
        history = (
            s.execute(
                select(standing_link_history)
                .where(H.credit_code == credit_code)
                .order_by(H.version)
            )
            .mappings()
            .all()
        )
        link = dict(cur) if cur is not None else None
        if link is not None:
            link["department_name"] = _name(s, departments, link["department_id"])
            link["staff_name"] = _name(s, staff, link["staff_id"])
        return {
            "credit_code": credit_code,
            "enterprise_name": ent.name,
            "jurisdiction": ent.jurisdiction,
            "link": link,
            "history": [dict(h) for h in history],
        }


# --- the demand's owner -------------------------------------------------------------------


def demand_owner(
    link: Any | None, department: Department | None, staff_name: str | None
) -> OwnerDecision | None:
    """The owner a new demand of the enterprise gets from its standing ``link`` (a row):
    its ``department``, and its person (named ``staff_name``) when it names one — when
    the link is explicit or made by a segment (a default-only link leaves the choice to
    the category rule). None without a link or its department."""
    if link is None or link.department_id is None or not follows_link(link.basis):
        return None
    if department is None:
        return None
    person = None
    if link.staff_id is not None and staff_name is not None:
        person = Person(link.staff_id, staff_name)
    reason = f"standing 包保 link ({link.basis}, since {link.since:%Y-%m-%d})"
    if person is not None:
        reason += f": named person {person.name}"
    return OwnerDecision(department, reason, person)
