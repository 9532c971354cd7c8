"""A city's alliance as the use cases read it: which city serves a jurisdiction, its
decision lock, the rule set in force, its members, the month's tally and the menu.

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

# The alliance rule sets: one city's own versions (a county has no alliance of its own).
RULES = RuleSets(alliance_rules, unit="city", body="params", inherit=False)


def city_of(jurisdiction: str) -> str | None:
    """The city (prefecture) whose alliance serves a jurisdiction; None at province level."""
    path = jurisdiction_path(jurisdiction)
    return path[1] if len(path) > 1 else None


def city_scope(actor: Principal, city: str, where: str = "path", read: bool = False) -> str:
    """``city`` when it is a city (prefecture) code the actor may manage (or, with
    ``read``, read the rules of); otherwise Invalid (naming ``where``.city) or Forbidden."""
    try:
        path = jurisdiction_path(city)
    except ValueError as exc:
        raise Invalid(str(exc), fields={where: {"city": [str(exc)]}}) from exc
    if len(path) != 2:
        raise Invalid(
            "An alliance is city-wide: give a city (prefecture) code.",
            fields={where: {"city": ["not a city-level code"]}},
        )
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
