"""The responsibility map (包保): departments with the segments they own, their staff,
and the named person (专人包保) of a key or flagged enterprise. Departments and staff
are announced (``department.updated``, ``staff.updated``): visits and scoring keep them.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Row, insert, select, update
from sqlalchemy.orm import Session

from services.dispatch import standing
from services.dispatch.models import blacklist, departments, enterprises, staff
from shared.auth import Principal
from shared.contracts import dispatch as contract
from shared.db import UnitOfWork, upsert
from shared.events import subtree_prefix
from shared.scoping import require_visible
from shared.usecases import Invalid, NotFound


def list_departments(uow: UnitOfWork, actor: Principal) -> list[dict[str, Any]]:
    q = select(departments).where(
        departments.c.jurisdiction.startswith(subtree_prefix(actor.jurisdiction))
    )
    with uow.read() as s:
        return [
            {**dict(r), "segments": [x for x in r["segments"].split(",") if x]}
            for r in s.execute(q.order_by(departments.c.id)).mappings()
        ]


def staff_jurisdiction(session: Session, staff_id: str) -> str | None:
    """The jurisdiction of a staff member's department (None for an unknown one)."""
    return session.execute(
        select(departments.c.jurisdiction)
        .join(staff, staff.c.department_id == departments.c.id)
        .where(staff.c.id == staff_id)
    ).scalar()


def put_department(
    uow: UnitOfWork, actor: Principal, dept_id: str, data: dict[str, Any]
) -> dict[str, Any]:
    """Create or replace one entry of the responsibility map (包保责任部室)."""
    require_visible(actor, data["jurisdiction"])
    values = {
        "jurisdiction": data["jurisdiction"],
        "name": data["name"],
        "segments": ",".join(sorted(set(data["segments"]))),
        "is_default": data["is_default"],
        "leader_staff_id": data.get("leader_staff_id"),
        "phone": data.get("phone"),
        "service_hours": data.get("service_hours"),
    }
    with uow:
        s = uow.session
        old = department_of(s, dept_id)
        if old is not None:
            require_visible(actor, old.jurisdiction)
        if values["leader_staff_id"]:
            leader = staff_jurisdiction(s, values["leader_staff_id"])
            if leader is None or not actor.can_see(leader):
                raise Invalid(
                    "Unknown staff member.",
                    fields={"json": {"leader_staff_id": ["unknown staff id"]}},
                )
        if old is None:
            s.execute(insert(departments).values(id=dept_id, **values))
        else:
            s.execute(update(departments).where(departments.c.id == dept_id).values(**values))
        emit_department(uow, dept_id, values)
        for area in sorted({values["jurisdiction"], old.jurisdiction if old else ""} - {""}):
            standing.relink(uow, within=area, actor=actor.key_id, reason=f"department {dept_id}")
        uow.commit()
    return {"id": dept_id, **values, "segments": sorted(set(data["segments"]))}


def emit_department(uow: UnitOfWork, dept_id: str, values: dict[str, Any]) -> None:
    segments = values["segments"]
    uow.emit(
        contract.department_updated(
            jurisdiction=values["jurisdiction"],
            payload={
                "id": dept_id,
                "jurisdiction": values["jurisdiction"],
                "name": values["name"],
                "segments": sorted(x for x in segments.split(",") if x)
                if isinstance(segments, str)
                else sorted(segments),
                "is_default": values["is_default"],
                "leader_staff_id": values.get("leader_staff_id"),
                "phone": values.get("phone"),
                "service_hours": values.get("service_hours"),
            },
        )
    )


def emit_staff(uow: UnitOfWork, staff_id: str, values: dict[str, Any], jurisdiction: str) -> None:
    uow.emit(
        contract.staff_updated(
            jurisdiction=jurisdiction,
            payload={
                "id": staff_id,
                "department_id": values["department_id"],
                "jurisdiction": jurisdiction,
                "name": values["name"],
                "title": values.get("title"),
                "phone": values.get("phone"),
            },
        )
    )


def department_of(session: Session, dept_id: str) -> Row[Any] | None:
    return session.execute(select(departments).where(departments.c.id == dept_id)).first()


def put_staff(
    uow: UnitOfWork, actor: Principal, staff_id: str, data: dict[str, Any]
) -> dict[str, Any]:
    """Create or replace a staff member of a department the actor sees."""
    with uow:
        dept = department_of(uow.session, data["department_id"])
        if dept is None:
            raise Invalid(
                "Unknown department.",
                fields={"json": {"department_id": ["unknown department"]}},
            )
        require_visible(actor, dept.jurisdiction)
        old = staff_jurisdiction(uow.session, staff_id)
        if old is not None:
            require_visible(actor, old)
        values = {
            "department_id": data["department_id"],
            "name": data["name"],
            "title": data.get("title"),
            "phone": data.get("phone"),
        }
        upsert(uow.session, staff, {"id": staff_id}, values)
        emit_staff(uow, staff_id, values, dept.jurisdiction)
        uow.commit()
    return {"id": staff_id, **values}


def list_staff(uow: UnitOfWork, actor: Principal) -> list[dict[str, Any]]:
    q = (
        select(staff, departments.c.jurisdiction)
        .join(departments, departments.c.id == staff.c.department_id)
        .where(departments.c.jurisdiction.startswith(subtree_prefix(actor.jurisdiction)))
        .order_by(staff.c.id)
    )
    with uow.read() as s:
        return [dict(r) for r in s.execute(q).mappings()]


def name_owner(
    uow: UnitOfWork, actor: Principal, credit_code: str, data: dict[str, Any]
) -> dict[str, Any]:
    """Name (or clear, ``staff_id`` None) the person who owns a key or flagged
    enterprise (专人包保)."""
    staff_id = data["staff_id"]
    with uow:
        s = uow.session
        ent = s.execute(select(enterprises).where(enterprises.c.credit_code == credit_code)).first()
        if ent is None:
            raise NotFound(
                f"No enterprise {credit_code} known to dispatch (registered in intake?)."
            )
        require_visible(actor, ent.jurisdiction)
        if staff_id is not None:
            where = staff_jurisdiction(s, staff_id)
            if where is None:
                raise Invalid(
                    "Unknown staff member.",
                    fields={"json": {"staff_id": ["unknown staff id"]}},
                )
            require_visible(actor, where)
        s.execute(
            update(enterprises)
            .where(enterprises.c.credit_code == credit_code)
            .values(named_staff_id=staff_id)
        )
        standing.relink(uow, codes=[credit_code], actor=actor.key_id, reason="named person")
        uow.commit()
    return get_enterprise(uow, actor, credit_code)


def get_enterprise(uow: UnitOfWork, actor: Principal, credit_code: str) -> dict[str, Any]:
    """An enterprise as dispatch sees it: flags, named owner, blacklist entries."""
    with uow.read() as s:
        ent = (
            s.execute(select(enterprises).where(enterprises.c.credit_code == credit_code))
            .mappings()
            .first()
        )
        if ent is None or not actor.can_see(ent["jurisdiction"]):
            raise NotFound(f"No enterprise {credit_code} in your subtree.")
        listed = (
            s.execute(select(blacklist).where(blacklist.c.credit_code == credit_code))
            .mappings()
            .all()
        )
        return {**dict(ent), "blacklisted": [dict(r) for r in listed]}
