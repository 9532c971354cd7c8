"""A city's alliance rule sets (published versions, never edited) and its
standard-contract menu (第十四条: price, policy coverage, bond per service item)."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

from sqlalchemy import select

from services.dispatch.alliance import AllianceRules
from services.dispatch.city_alliance import RULES, city_scope, current_rules
from services.dispatch.models import menu_items
from services.dispatch.terms import contract_terms
from shared.auth import Principal
from shared.contracts.catalogue import BY_CODE
from shared.db import UnitOfWork, upsert
from shared.rulesets import RuleSets
from shared.timezone import china_today
from shared.usecases import Invalid, NotFound


def get_rules(uow: UnitOfWork, actor: Principal, city: str) -> dict[str, Any]:
    """The rule set in effect (version 0 = the seed's numbers) and every published one."""
    city = city_scope(actor, city, read=True)
    with uow.read() as s:
        version, current = current_rules(s, city, china_today())
        versions = [
            {
                **{k: v[k] for k in ("version", "effective_from", "published_by", "published_at")},
                "rules": v["body"],
            }
            for v in RULES.versions(s, city)
        ]
    return {"city": city, "version": version, "rules": current.as_dict(), "versions": versions}


def checked_rules(data: dict[str, Any], today: date) -> tuple[date, AllianceRules]:
    """The effective date and the full rule set of a publication (fields left out keep
    the seed's values); Invalid for a date in the past or an inconsistent set."""
    fields = dict(data)
    effective = fields.pop("effective_from")
    RuleSets.check_effective(effective, today)
    rules = AllianceRules(**{**AllianceRules().as_dict(), **fields})
    problems = rules.problems()
    if problems:
        raise Invalid(
            "Inconsistent rule set.", fields={"json": {k: [v] for k, v in problems.items()}}
        )
    return effective, rules


def publish_rules(
    uow: UnitOfWork, actor: Principal, city: str, data: dict[str, Any]
) -> dict[str, Any]:
    """A new version, effective from a date (today or later); inconsistent sets are
    Invalid, naming the fields."""
    city = city_scope(actor, city)
    effective, rules = checked_rules(data, china_today())
    with uow:
        RULES.publish(uow.session, city, effective, rules.as_dict(), actor.key_id)
        uow.commit()
    return get_rules(uow, actor, city)


def get_menu(uow: UnitOfWork, actor: Principal, city: str) -> list[dict[str, Any]]:
    city = city_scope(actor, city, read=True)
    with uow.read() as s:
        _, rules = current_rules(s, city, china_today())
        rows = s.execute(
            select(menu_items).where(menu_items.c.city == city).order_by(menu_items.c.service_item)
        ).mappings()
        return [menu_entry(dict(r), rules) for r in rows]


def menu_entry(row: dict[str, Any], rules: AllianceRules) -> dict[str, Any]:
    """A menu row with the bond its terms carry under ``rules``."""
    terms = contract_terms(
        row["price"], row["policy_coverage"], row["expected_settlement_months"], rules
    )
    return {**row, "bond": terms.bond, "bond_reason": terms.bond_reason}


def put_menu_item(
    uow: UnitOfWork, actor: Principal, city: str, item: str, data: dict[str, Any]
) -> dict[str, Any]:
    """Price a service item of the catalogue that the market serves."""
    city = city_scope(actor, city)
    entry = BY_CODE.get(item)
    if entry is None:
        raise NotFound(f"Unknown service item {item!r}; see GET /intake/api/v1/services.")
    if entry.agency_category is None:
        raise Invalid(
            f"{item} is handled by the office itself: no market price.",
            fields={"path": {"item": ["no market price for this item"]}},
        )
    values = {
        "price": data["price"],
        "policy_coverage": data.get("policy_coverage"),
        "expected_settlement_months": data.get("expected_settlement_months"),
        "updated_by": actor.key_id,
        "updated_at": datetime.now(UTC),
    }
    with uow:
        upsert(uow.session, menu_items, {"city": city, "service_item": item}, values)
        _, rules = current_rules(uow.session, city, china_today())
        uow.commit()
    return menu_entry({"city": city, "service_item": item, **values}, rules)
