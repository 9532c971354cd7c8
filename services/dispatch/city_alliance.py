"""An alliance as the use cases read it: which alliance serves a jurisdiction, its
decision lock, the rule set in force, its members, the month's tally and the menu.

An alliance belongs to the unit that runs the station, at any level: a prefecture-level
city (西宁 630100), a county-level city running its own (慈溪 330282), a park. The code is
still called ``city`` in the API and the tables.

Every decision of a city runs while holding that city's ``alliances`` row
(``SELECT … FOR UPDATE`` on PostgreSQL; SQLite writers are serialised by
``BEGIN IMMEDIATE``), so two workers deciding at once see each other's orders
and the caps hold.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from services.dispatch.alliance import Agency, AllianceRules, MonthTally
from services.dispatch.domain import COUNTED
from services.dispatch.models import agencies, alliance_rules, alliances, assignments, menu_items
from shared.auth import Principal
from shared.db import UnitOfWork, insert_or_ignore
from shared.events import jurisdiction_path
from shared.rulesets import RuleSets
from shared.scoping import require_rules_readable
from shared.usecases import Forbidden, Invalid

# The alliance rule sets: each alliance's own versions (an alliance inherits none).
RULES = RuleSets(alliance_rules, unit="city", body="params", inherit=False)


def alliance_of(session: Session, jurisdiction: str) -> str | None:
    """The alliance that serves a jurisdiction: the nearest unit on its path that has
    admitted members (a county-level city's own station before its prefecture's); with
    none, its prefecture's (whose decision then finds no member); None for a province
    without members."""
    path = jurisdiction_path(jurisdiction)
    having = set(
        session.execute(
            select(agencies.c.jurisdiction).where(agencies.c.jurisdiction.in_(path)).distinct()
        ).scalars()
    )
    nearest = next((code for code in reversed(path) if code in having), None)
    return nearest or (path[1] if len(path) > 1 else None)


def city_scope(actor: Principal, city: str, where: str = "path", read: bool = False) -> str:
    """``city`` — the unit an alliance belongs to, at any level — when the actor may manage
    it (or, with ``read``, read its rules); otherwise Invalid (naming ``where``.city) or
    Forbidden."""
    try:
        jurisdiction_path(city)
    except ValueError as exc:
        raise Invalid(str(exc), fields={where: {"city": [str(exc)]}}) from exc
    if read:
        require_rules_readable(actor, city)  # a county reads its city's alliance rules
    elif not actor.can_see(city):
        raise Forbidden(f"City {city} is outside your subtree.")
    return city


def current_rules(session: Session, city: str, today: date) -> tuple[int, AllianceRules]:
    """The rule set in effect (version 0 = the seed's defaults when none is published)."""
    found = RULES.in_force(session, city, today)
    if found is None:
        return 0, AllianceRules()
    _, version, params = found
    return version, AllianceRules(**params)


def to_agency(r: Any) -> Agency:
    return Agency(
        id=r.id,
        name=r.name,
        category=r.category,
        rank_basis=r.rank_basis,
        status=r.status,
        paused_until=r.paused_until,
    )


def city_agencies(session: Session, city: str) -> list[Agency]:
    rows = session.execute(select(agencies).where(agencies.c.jurisdiction == city)).all()
    return [to_agency(r) for r in rows]


def month_tally(session: Session, city: str, month: str) -> MonthTally:
    a = assignments.c
    rows = session.execute(
        select(a.assignee_id, a.service_item, a.value).where(
            a.kind == "agency", a.city == city, a.month == month, a.status.in_(COUNTED)
        )
    ).all()
    return MonthTally.of((r.assignee_id, r.service_item, r.value or 0) for r in rows)


def lock_city(uow: UnitOfWork, city: str) -> None:
    """Take the city's decision lock (creating its row the first time)."""
    uow.session.execute(
        insert_or_ignore(uow.db, alliances).values(city=city, created_at=datetime.now(UTC))
    )
    uow.session.execute(select(alliances.c.city).where(alliances.c.city == city).with_for_update())


def menu_price(session: Session, city: str, item: str) -> tuple[int | None, int | None, int | None]:
    """(price, policy coverage, expected settlement months) of a service item's menu
    entry; all None when the city prices it not."""
    row = session.execute(
        select(menu_items).where(menu_items.c.city == city, menu_items.c.service_item == item)
    ).first()
    if row is None:
        return None, None, None
    return row.price, row.policy_coverage, row.expected_settlement_months
