"""The alliance's members and rules over HTTP: admission, pauses, exit, the rule
sets, the standard-contract menu and the enterprise blacklist."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime
from typing import Any

from sqlalchemy import insert, select, update
from sqlalchemy.exc import IntegrityError

from services.dispatch import alliance as rules_mod
from services.dispatch import broker
from services.dispatch.models import agencies, alliance_rules, assignments, blacklist, menu_items
from services.dispatch.orders import china_today, current_rules, set_agency_status
from shared.auth import Principal
from shared.catalogue import BY_CODE
from shared.contracts import dispatch as contract
from shared.db import upsert
from shared.errors import ApiError
from shared.events import jurisdiction_path
from shared.runtime import Service
from shared.scoping import require_rules_readable

PUBLIC_FIELDS = (
    "id",
    "name",
    "category",
    "jurisdiction",
    "rank_basis",
    "status",
    "engagements_two_years",
    "paused_until",
    "status_reason",
    "admitted_at",
    "broker_user",
)


def city_scope(principal: Principal, city: str, where: str = "path", read: bool = False) -> str:
    try:
        path = jurisdiction_path(city)
    except ValueError as exc:
        raise ApiError(422, str(exc), fields={where: {"city": [str(exc)]}}) from exc
    if len(path) != 2:
        raise ApiError(
            422,
            "An alliance is city-wide: give a city (prefecture) code.",
            fields={where: {"city": ["not a city-level code"]}},
        )
    if read:
        require_rules_readable(principal, city)  # a county reads its city's alliance rules
    elif not principal.can_see(city):
        raise ApiError(403, f"City {city} is outside your subtree.")
    return city


def _public(row: Any) -> dict[str, Any]:
    return {k: row.get(k) for k in PUBLIC_FIELDS}


def admit(svc: Service, principal: Principal, data: dict[str, Any], cid: str) -> dict[str, Any]:
    """Admission (CX 第五、八条): the criteria, then the agency, its key, queue and broker user.

    Order matters for "nothing half-written": the agency row is inserted first (a
    concurrent admission of the same id waits on it and then gets a 409 before
    touching the broker), then the key, the queue and the broker user are made,
    and only then is the row committed. A failure on the way rolls the row back
    and revokes the key; a queue or broker user left behind is re-made
    idempotently by the next admission of that id.
    """
    city = city_scope(principal, data["city"], "json")
    if svc.directory.jurisdiction(city) is None:
        raise ApiError(
            422, f"Unknown city {city}.", fields={"json": {"city": ["not in the directory"]}}
        )
    agency_id = data["id"]
    with svc.db.session() as s:
        _, rules = current_rules(s, city, china_today())
    problem = rules_mod.admission_problem(data["engagements_two_years"], rules)
    if problem:
        raise ApiError(422, problem, fields={"json": {"engagements_two_years": [problem]}})
    creds = None if svc.settings.embedded else broker.new_credentials(agency_id)
    now = datetime.now(UTC)
    values = {
        "id": agency_id,
        "name": data["name"],
        "category": data["category"],
        "jurisdiction": city,
        "rank_basis": data["rank_basis"],
        "status": "active",
        "engagements_two_years": data["engagements_two_years"],
        "admitted_at": now,
        "status_reason": "admitted (第五条)",
        "broker_user": None,
        "broker_password_hash": creds.password_hash if creds else None,
    }
    key: str | None = None
    try:
        with svc.uow() as uow:
            try:
                uow.session.execute(insert(agencies).values(**values))
                uow.session.flush()
            except IntegrityError:
                raise ApiError(
                    409, f"Agency {agency_id} already exists.", fields={"json": {"id": ["taken"]}}
                ) from None
            key = svc.directory.create_key(
                name=f"agency {agency_id}", role="agency", jurisdiction=city, agency_id=agency_id
            )
            try:
                provisioned = broker.provision(
                    svc.settings, agency_id, creds.password_hash if creds else None
                )
            except broker.ProvisioningError as exc:
                raise ApiError(503, f"The broker could not be prepared: {exc}") from exc
            if creds and provisioned["user_provisioned"]:
                values["broker_user"] = creds.username
                uow.session.execute(
                    update(agencies)
                    .where(agencies.c.id == agency_id)
                    .values(broker_user=creds.username)
                )
            uow.emit(
                contract.agency_status_changed(
                    jurisdiction=city,
                    correlation_id=cid,
                    payload={
                        "agency_id": agency_id,
                        "name": data["name"],
                        "category": data["category"],
                        "from_status": None,
                        "to_status": "active",
                        "paused_until": None,
                        "reason": f"admitted with {data['engagements_two_years']} engagements",
                        "actor": principal.key_id,
                        "at": now.isoformat(),
                    },
                )
            )
            uow.commit()
    except BaseException:
        if key is not None:
            svc.directory.revoke(key.split("_")[1])
        raise
    out = _public(values)
    out["api_key"] = key
    user = values["broker_user"]
    if user:
        note = "read-only on this queue; the password is shown once and stored only hashed"
    elif svc.settings.embedded:
        note = "embedded broker: the queue exists in-process (no broker users)"
    else:
        note = "no broker user: ONESTOP_BROKER_ADMIN_URL is not set"
    out["broker"] = {
        "queue": provisioned["queue"],
        "username": user,
        "password": creds.password if creds and user else None,
        "url": broker.public_broker_url(svc.settings, user) if user else None,
        "note": note,
    }
    return out


def set_rank_basis(
    svc: Service, principal: Principal, agency_id: str, data: dict[str, Any]
) -> dict[str, Any]:
    """The yearly update of an agency's rank basis (last year's in-city high-tech business
    volume, 第十六条); rotation order follows at the next decision."""
    row = get_agency(svc, principal, agency_id)
    city_scope(principal, row["jurisdiction"])
    with svc.uow() as uow:
        uow.session.execute(
            update(agencies).where(agencies.c.id == agency_id).values(rank_basis=data["rank_basis"])
        )
        uow.commit()
    return get_agency(svc, principal, agency_id)


def list_agencies(svc: Service, principal: Principal, args: dict[str, Any]) -> list[dict[str, Any]]:
    a = agencies.c
    q = select(agencies)
    if principal.role == "agency":
        q = q.where(a.id == principal.agency_id)
    for name in ("category", "status"):
        if args.get(name):
            q = q.where(a[name] == args[name])
    with svc.db.session() as s:
        rows = s.execute(q.order_by(a.category, a.rank_basis.desc(), a.id)).mappings().all()
    return [_public(r) for r in rows if principal.can_see(r["jurisdiction"])]


def get_agency(svc: Service, principal: Principal, agency_id: str) -> dict[str, Any]:
    if principal.role == "agency" and principal.agency_id != agency_id:
        raise ApiError(403, "An agency key reads only its own agency.")
    with svc.db.session() as s:
        row = s.execute(select(agencies).where(agencies.c.id == agency_id)).mappings().first()
    if row is None or not principal.can_see(row["jurisdiction"]):
        raise ApiError(404, f"No agency {agency_id}.")
    return _public(row)


def change_status(
    svc: Service,
    principal: Principal,
    agency_id: str,
    action: str,
    data: dict[str, Any],
    cid: str,
) -> dict[str, Any]:
    """Pause until a date, resume, or exit with one of the grounds of 第二十二、二十四条."""
    get_agency(svc, principal, agency_id)
    if action == "pause":
        until: date | None = data["until"]
        if until is not None and until < china_today():
            raise ApiError(
                422, "A pause ends today or later.", fields={"json": {"until": ["in the past"]}}
            )
        to, reason = "paused", data["reason"]
    elif action == "resume":
        until, to, reason = None, "active", data.get("reason") or "resumed"
    else:
        until, to = None, "exited"
        reason = f"{rules_mod.EXIT_GROUNDS[data['ground']]}: {data['note']}"
    with svc.uow() as uow:
        set_agency_status(uow, agency_id, to, reason, principal.key_id, cid, until=until)
        uow.commit()
    return get_agency(svc, principal, agency_id)


# --- rules and menu ----------------------------------------------------------------


def get_rules(svc: Service, principal: Principal, city: str) -> dict[str, Any]:
    city = city_scope(principal, city, read=True)
    with svc.db.session() as s:
        version, current = current_rules(s, city, china_today())
        history = s.execute(
            select(alliance_rules)
            .where(alliance_rules.c.city == city)
            .order_by(alliance_rules.c.version)
        ).mappings()
        versions = [
            {
                **{k: r[k] for k in ("version", "effective_from", "published_by", "published_at")},
                "rules": json.loads(r["params"]),
            }
            for r in history
        ]
    return {"city": city, "version": version, "rules": current.as_dict(), "versions": versions}


def publish_rules(
    svc: Service, principal: Principal, city: str, data: dict[str, Any]
) -> dict[str, Any]:
    """A new version, effective from a date (today or later); inconsistent sets are 422s."""
    city = city_scope(principal, city)
    effective = data.pop("effective_from")
    if effective < china_today():
        raise ApiError(
            422,
            "Rules take effect today or later.",
            fields={"json": {"effective_from": ["in the past"]}},
        )
    rules = rules_mod.AllianceRules(**{**rules_mod.AllianceRules().as_dict(), **data})
    problems = rules.problems()
    if problems:
        raise ApiError(
            422, "Inconsistent rule set.", fields={"json": {k: [v] for k, v in problems.items()}}
        )
    with svc.uow() as uow:
        last = uow.session.execute(
            select(alliance_rules.c.version)
            .where(alliance_rules.c.city == city)
            .order_by(alliance_rules.c.version.desc())
            .limit(1)
            .with_for_update()
        ).scalar()
        uow.session.execute(
            insert(alliance_rules).values(
                city=city,
                version=(last or 0) + 1,
                effective_from=effective,
                params=json.dumps(rules.as_dict()),
                published_by=principal.key_id,
                published_at=datetime.now(UTC),
            )
        )
        uow.commit()
    return get_rules(svc, principal, city)


def get_menu(svc: Service, principal: Principal, city: str) -> list[dict[str, Any]]:
    city = city_scope(principal, city, read=True)
    with svc.db.session() as s:
        _, rules = current_rules(s, city, china_today())
        rows = s.execute(
            select(menu_items).where(menu_items.c.city == city).order_by(menu_items.c.service_item)
        ).mappings()
        return [_menu_entry(dict(r), rules) for r in rows]


def _menu_entry(row: dict[str, Any], rules: rules_mod.AllianceRules) -> dict[str, Any]:
    terms = rules_mod.contract_terms(
        row["price"], row["policy_coverage"], row["expected_settlement_months"], rules
    )
    return {**row, "bond": terms.bond, "bond_reason": terms.bond_reason}


def put_menu_item(
    svc: Service, principal: Principal, city: str, item: str, data: dict[str, Any]
) -> dict[str, Any]:
    city = city_scope(principal, city)
    entry = BY_CODE.get(item)
    if entry is None:
        raise ApiError(404, f"Unknown service item {item!r}; see GET /intake/api/v1/services.")
    if entry.agency_category is None:
        raise ApiError(
            422,
            f"{item} is handled by the office itself: no market price.",
            fields={"path": {"item": ["no market price for this item"]}},
        )
    values = {
        "price": data["price"],
        "policy_coverage": data.get("policy_coverage"),
        "expected_settlement_months": data.get("expected_settlement_months"),
        "updated_by": principal.key_id,
        "updated_at": datetime.now(UTC),
    }
    with svc.uow() as uow:
        upsert(uow.session, menu_items, {"city": city, "service_item": item}, values)
        _, rules = current_rules(uow.session, city, china_today())
        uow.commit()
    return _menu_entry({"city": city, "service_item": item, **values}, rules)


# --- the enterprise blacklist ----------------------------------------------------------


def blacklist_enterprise(
    svc: Service, principal: Principal, credit_code: str, data: dict[str, Any], cid: str
) -> dict[str, Any]:
    """企业黑名单 (第二十一条): abandoned mid-way, or refused to pay after the goal."""
    city = city_scope(principal, data["city"], "json")
    now = datetime.now(UTC)
    with svc.uow() as uow:
        s = uow.session
        if data.get("assignment_id"):
            order = s.execute(
                select(assignments).where(assignments.c.id == data["assignment_id"])
            ).first()
            if order is None or order.enterprise_credit_code != credit_code or order.city != city:
                raise ApiError(
                    422,
                    "The assignment is not an order of this enterprise in this city.",
                    fields={"json": {"assignment_id": ["no such order of this enterprise"]}},
                )
        if s.execute(
            select(blacklist.c.credit_code).where(
                blacklist.c.city == city, blacklist.c.credit_code == credit_code
            )
        ).first():
            raise ApiError(409, f"{credit_code} is already on {city}'s blacklist.")
        row = {
            "city": city,
            "credit_code": credit_code,
            "reason": data["reason"],
            "assignment_id": data.get("assignment_id"),
            "note": data["note"],
            "actor": principal.key_id,
            "at": now,
        }
        s.execute(insert(blacklist).values(**row))
        uow.emit(
            contract.enterprise_blacklisted(
                jurisdiction=city,
                correlation_id=cid,
                payload={**row, "at": now.isoformat()},
            )
        )
        uow.commit()
    return row
