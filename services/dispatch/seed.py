"""Loading a responsibility map, an alliance's members and its menu (the demo, the
benchmarks, tests): only what is not there yet, announced like the map's own changes."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Table, insert, select

from services.dispatch import standing
from services.dispatch.models import agencies, departments, menu_items, staff
from services.dispatch.responsibility import department_of, emit_department, emit_staff
from shared.db import UnitOfWork

Dept = tuple[str, str, str, tuple[str, ...], bool]  # id, jurisdiction, name, segments, default
Staff = tuple[str, str, str, str]  # id, department, name, title
Member = tuple[str, str, str, int]  # id, name, category, rank basis
MenuEntry = tuple[str, int, int | None, int | None]  # item, price, coverage, settlement months


def seed_responsibility(
    uow: UnitOfWork,
    depts: Sequence[Dept],
    people: Sequence[Staff],
    agency_rows: Sequence[Member],
    city: str,
    leaders: dict[str, str] | None = None,
    menu: Sequence[MenuEntry] = (),
) -> int:
    """Load departments, staff, agencies and menu prices not there yet (idempotent);
    how many rows were added."""
    now = datetime.now(UTC)
    with uow:
        added = 0
        where = {}
        for id_, jurisdiction, name, segments, is_default in depts:
            values = {
                "id": id_,
                "jurisdiction": jurisdiction,
                "name": name,
                "segments": ",".join(segments),
                "is_default": is_default,
                "leader_staff_id": (leaders or {}).get(id_),
            }
            where[id_] = jurisdiction
            if _add(uow, departments, values):
                added += 1
                emit_department(uow, id_, values)
        for id_, dept, name, title in people:
            values = {"id": id_, "department_id": dept, "name": name, "title": title}
            if _add(uow, staff, values):
                added += 1
                found = where.get(dept) or _jurisdiction_of(uow, dept)
                emit_staff(uow, id_, values, found)
        for id_, name, category, rank in agency_rows:
            added += _add(uow, agencies, _member(id_, name, category, rank, city, now))
        for item, price, coverage, months in menu:
            added += _add_menu_entry(uow, city, item, price, coverage, months, now)
        for area in sorted({j for _, j, _, _, _ in depts}):
            standing.relink(uow, within=area, actor="seed", reason="responsibility map loaded")
        uow.commit()
    return added


def _add(uow: UnitOfWork, table: Table, values: dict[str, Any]) -> bool:
    if uow.session.execute(select(table.c.id).where(table.c.id == values["id"])).first():
        return False
    uow.session.execute(insert(table).values(**values))
    return True


def _jurisdiction_of(uow: UnitOfWork, dept_id: str) -> str:
    dept = department_of(uow.session, dept_id)
    assert dept is not None, f"staff of an unknown department {dept_id}"
    return str(dept.jurisdiction)


def _member(
    id_: str, name: str, category: str, rank: int, city: str, now: datetime
) -> dict[str, Any]:
    return {
        "id": id_,
        "name": name,
        "category": category,
        "jurisdiction": city,
        "rank_basis": rank,
        "status": "active",
        "engagements_two_years": max(rank // 4, 5),
        "admitted_at": now,
    }


def _add_menu_entry(
    uow: UnitOfWork,
    city: str,
    item: str,
    price: int,
    coverage: int | None,
    months: int | None,
    now: datetime,
) -> bool:
    found = uow.session.execute(
        select(menu_items.c.price).where(
            menu_items.c.city == city, menu_items.c.service_item == item
        )
    ).first()
    if found is not None:
        return False
    uow.session.execute(
        insert(menu_items).values(
            city=city,
            service_item=item,
            price=price,
            policy_coverage=coverage,
            expected_settlement_months=months,
            updated_by="demo",
            updated_at=now,
        )
    )
    return True
