"""The alliance's members: admission (with the agency's key, queue and broker user),
the yearly rank basis, pauses, resumption and exit."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

from sqlalchemy import insert, select, update
from sqlalchemy.exc import IntegrityError

from services.dispatch.alliance import EXIT_GROUNDS, admission_problem
from services.dispatch.broker import AgencyBroker, Credentials, ProvisioningError
from services.dispatch.city_alliance import alliance_of, city_scope, current_rules
from services.dispatch.models import agencies, api_keys
from shared.auth import Principal, new_key
from shared.contracts import dispatch as contract
from shared.db import UnitOfWork
from shared.events import jurisdiction_path
from shared.timezone import china_today
from shared.usecases import Conflict, Forbidden, Invalid, NotFound, Unavailable

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


def public(row: Any) -> dict[str, Any]:
    """An agency as the API shows it (never its password hash)."""
    return {k: row.get(k) for k in PUBLIC_FIELDS}


def admit(
    uow: UnitOfWork,
    actor: Principal,
    data: dict[str, Any],
    *,
    broker: AgencyBroker,
    correlation_id: str,
) -> dict[str, Any]:
    """Admission (CX 第五、八条): the criteria, then the agency, its key, queue and broker user.

    Order matters for "nothing half-written": the agency row is inserted first (a
    concurrent admission of the same id waits on it and then gets a 409 before
    touching the broker), then the key (kept in this service's copy of the keys and
    announced as ``agency.key_issued`` in the same transaction), the queue and the
    broker user are made, and only then is everything committed. A failure on the way
    rolls it all back; a queue or broker user left behind is re-made idempotently by the
    next admission of that id.
    """
    city = city_scope(actor, data["city"], "json")
    if uow.directory.jurisdiction(city) is None:
        raise Invalid(f"Unknown city {city}.", fields={"json": {"city": ["not in the directory"]}})
    agency_id = data["id"]
    with uow.read() as s:
        _, rules = current_rules(s, city, china_today())
    problem = admission_problem(data["engagements_two_years"], rules)
    if problem:
        raise Invalid(problem, fields={"json": {"engagements_two_years": [problem]}})
    creds = broker.credentials(agency_id)
    now = datetime.now(UTC)
    values = admitted_row(data, city, creds, now)
    key_id, digest, key = new_key()
    with uow:
        try:
            uow.session.execute(insert(agencies).values(**values))
            uow.session.flush()
        except IntegrityError:
            raise Conflict(
                f"Agency {agency_id} already exists.", fields={"json": {"id": ["taken"]}}
            ) from None
        keep_agency_key(uow, actor, agency_id, city, key_id, digest, now, correlation_id)
        try:
            provisioned = broker.provision(agency_id, creds.password_hash if creds else None)
        except ProvisioningError as exc:
            raise Unavailable(f"The broker could not be prepared: {exc}") from exc
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
                correlation_id=correlation_id,
                payload={
                    "agency_id": agency_id,
                    "name": data["name"],
                    "category": data["category"],
                    "from_status": None,
                    "to_status": "active",
                    "paused_until": None,
                    "reason": f"admitted with {data['engagements_two_years']} engagements",
                    "actor": actor.key_id,
                    "at": now.isoformat(),
                },
            )
        )
        uow.commit()
    return admission_answer(values, key, provisioned["queue"], creds, broker)


def keep_agency_key(
    uow: UnitOfWork,
    actor: Principal,
    agency_id: str,
    city: str,
    key_id: str,
    digest: str,
    now: datetime,
    correlation_id: str,
) -> None:
    """The agency's key: this service's copy knows it at once, and ``agency.key_issued``
    (same transaction) has the directory keep it and announce it to every service."""
    row = {
        "key_id": key_id,
        "secret_sha256": digest,
        "name": f"agency {agency_id}",
        "jurisdiction": city,
        "agency_id": agency_id,
    }
    uow.session.execute(insert(api_keys).values(**row, role="agency", created_at=now))
    uow.emit(
        contract.agency_key_issued(
            jurisdiction=city,
            correlation_id=correlation_id,
            payload={**row, "created_at": now.isoformat(), "actor": actor.key_id},
        )
    )


def admitted_row(
    data: dict[str, Any], city: str, creds: Credentials | None, now: datetime
) -> dict[str, Any]:
    """The ``agencies`` row of a newly admitted member (its broker user set once made)."""
    return {
        "id": data["id"],
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


def admission_answer(
    values: dict[str, Any],
    key: str | None,
    queue: str,
    creds: Credentials | None,
    broker: AgencyBroker,
) -> dict[str, Any]:
    """The admitted agency with its API key and broker credentials, shown once."""
    out = public(values)
    out["api_key"] = key
    user = values["broker_user"]
    if user:
        note = "read-only on this queue; the password is shown once and stored only hashed"
    elif broker.embedded:
        note = "embedded broker: the queue exists in-process (no broker users)"
    else:
        note = "no broker user: ONESTOP_BROKER_ADMIN_URL is not set"
    out["broker"] = {
        "queue": queue,
        "username": user,
        "password": creds.password if creds and user else None,
        "url": broker.url(user) if user else None,
        "note": note,
    }
    return out


def set_rank_basis(
    uow: UnitOfWork, actor: Principal, agency_id: str, data: dict[str, Any]
) -> dict[str, Any]:
    """The yearly update of an agency's rank basis (last year's in-city high-tech business
    volume, 第十六条); rotation order follows at the next decision."""
    row = get_agency(uow, actor, agency_id)
    city_scope(actor, row["jurisdiction"])
    with uow:
        uow.session.execute(
            update(agencies).where(agencies.c.id == agency_id).values(rank_basis=data["rank_basis"])
        )
        uow.commit()
    return get_agency(uow, actor, agency_id)


def list_agencies(uow: UnitOfWork, actor: Principal, query: dict[str, Any]) -> list[dict[str, Any]]:
    """Members in rotation order per category, in the actor's subtree (an agency: itself)."""
    a = agencies.c
    q = select(agencies)
    if actor.role == "agency":
        q = q.where(a.id == actor.agency_id)
    for name in ("category", "status"):
        if query.get(name):
            q = q.where(a[name] == query[name])
    with uow.read() as s:
        rows = s.execute(q.order_by(a.category, a.rank_basis.desc(), a.id)).mappings().all()
    return [public(r) for r in rows if actor.can_see(r["jurisdiction"])]


def list_offers(uow: UnitOfWork, city: str) -> dict[str, Any]:
    """What the alliance serving ``city`` (any unit: the nearest unit on its path with
    members, else its prefecture) offers, for anyone signed in — an enterprise choosing an
    agency for its order (企业点单): each member that has not exited, in rotation order per
    category, with its name, category and whether dispatch to it is paused (an
    enterprise's order still reaches a paused member). Nothing else of a member: no
    contacts, rank basis, engagements or reasons."""
    try:
        jurisdiction_path(city)
    except ValueError as exc:
        raise Invalid(str(exc), fields={"path": {"city": [str(exc)]}}) from exc
    a = agencies.c
    with uow.read() as s:
        alliance = alliance_of(s, city)
        rows = (
            s.execute(
                select(a.id, a.name, a.category, a.status, a.paused_until)
                .where(a.jurisdiction == alliance, a.status != "exited")
                .order_by(a.category, a.rank_basis.desc(), a.id)
            )
            .mappings()
            .all()
            if alliance
            else []
        )
    items = [
        {
            "id": r["id"],
            "name": r["name"],
            "category": r["category"],
            "paused": r["status"] == "paused",
            "paused_until": r["paused_until"],
        }
        for r in rows
    ]
    return {"city": alliance, "items": items}


def get_agency(uow: UnitOfWork, actor: Principal, agency_id: str) -> dict[str, Any]:
    if actor.role == "agency" and actor.agency_id != agency_id:
        raise Forbidden("An agency key reads only its own agency.")
    with uow.read() as s:
        row = s.execute(select(agencies).where(agencies.c.id == agency_id)).mappings().first()
    if row is None or not actor.can_see(row["jurisdiction"]):
        raise NotFound(f"No agency {agency_id}.")
    return public(row)


def change_status(
    uow: UnitOfWork,
    actor: Principal,
    agency_id: str,
    action: str,
    data: dict[str, Any],
    *,
    correlation_id: str,
) -> dict[str, Any]:
    """Pause until a date, resume, or exit with one of the grounds of 第二十二、二十四条
    (``action``: pause, resume or exit; ``data``: that action's input)."""
    get_agency(uow, actor, agency_id)
    if action == "pause":
        until: date | None = data["until"]
        if until is not None and until < china_today():
            raise Invalid(
                "A pause ends today or later.", fields={"json": {"until": ["in the past"]}}
            )
        to, reason = "paused", data["reason"]
    elif action == "resume":
        until, to, reason = None, "active", data.get("reason") or "resumed"
    else:
        until, to = None, "exited"
        reason = f"{EXIT_GROUNDS[data['ground']]}: {data['note']}"
    with uow:
        set_agency_status(uow, agency_id, to, reason, actor.key_id, correlation_id, until=until)
        uow.commit()
    return get_agency(uow, actor, agency_id)


def set_agency_status(
    uow: UnitOfWork,
    agency_id: str,
    to_status: str,
    reason: str,
    by: str,
    correlation_id: str,
    until: date | None = None,
) -> dict[str, Any]:
    """Move a member to ``to_status`` in the caller's transaction and announce it; an
    exit is final (Conflict), exiting twice changes nothing. ``by``: who acts."""
    row = (
        uow.session.execute(select(agencies).where(agencies.c.id == agency_id).with_for_update())
        .mappings()
        .first()
    )
    if row is None:
        raise NotFound(f"No agency {agency_id}.")
    if row["status"] == "exited":
        if to_status == "exited":  # exiting twice (e.g. two grounds at once) changes nothing
            return dict(row)
        raise Conflict(f"Agency {agency_id} has exited the alliance; its status is final.")
    uow.session.execute(
        update(agencies)
        .where(agencies.c.id == agency_id)
        .values(status=to_status, paused_until=until, status_reason=reason[:500])
    )
    now = datetime.now(UTC)
    uow.emit(
        contract.agency_status_changed(
            jurisdiction=row["jurisdiction"],
            correlation_id=correlation_id,
            payload={
                "agency_id": agency_id,
                "name": row["name"],
                "category": row["category"],
                "from_status": row["status"],
                "to_status": to_status,
                "paused_until": until.isoformat() if until else None,
                "reason": reason,
                "actor": by,
                "at": now.isoformat(),
            },
        )
    )
    return {**dict(row), "status": to_status, "paused_until": until, "status_reason": reason}
