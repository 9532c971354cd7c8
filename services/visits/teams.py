"""The units compliance is counted on besides departments: provincial service teams
(SX 服务专班) with their linked city and key enterprises, service stations (CX 服务站)
with their staff, and the duty roster."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Table, select
from sqlalchemy.orm import Session

from services.visits.models import duty_days, enterprises, stations, teams, units
from shared.auth import Principal
from shared.db import UnitOfWork, claim, upsert
from shared.events import jurisdiction_path, subtree_prefix
from shared.scoping import require_visible
from shared.timezone import china_today
from shared.usecases import Invalid, NotFound

ID_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]{0,39}")


def _check_id(what: str, value: str) -> None:
    if not ID_RE.fullmatch(value):
        raise Invalid.field(f"{what}_id", "1-40 letters, digits, - or _", where="path")


def put_team(
    uow: UnitOfWork, actor: Principal, team_id: str, command: dict[str, Any]
) -> dict[str, Any]:
    """A provincial service team (SX 服务专班): its linked city and key enterprises."""
    _check_id("team", team_id)
    require_visible(actor, command["jurisdiction"])
    path = jurisdiction_path(command["linked_city"])
    if len(path) != 2 or path[0] != jurisdiction_path(command["jurisdiction"])[0]:
        raise Invalid.field("linked_city", "a city (prefecture) of the team's province")
    keys = list(dict.fromkeys(command["key_enterprises"]))
    values = {
        "name": command["name"],
        "jurisdiction": command["jurisdiction"],
        "linked_city": command["linked_city"],
        "key_enterprises": json.dumps(keys),
        "updated_at": datetime.now(UTC),
    }
    _put(uow, actor, teams, team_id, values, lambda s: _require_enterprises(s, actor, keys))
    return {"id": team_id, **values, "key_enterprises": keys}


def _put(
    uow: UnitOfWork,
    actor: Principal,
    table: Table,
    unit_id: str,
    values: dict[str, Any],
    check: Callable[[Session], None],
) -> None:
    """Store a team or a station: one of the actor's subtree (when it exists already),
    whose members pass ``check``."""
    with uow:
        s = uow.session
        old = s.execute(select(table.c.jurisdiction).where(table.c.id == unit_id)).first()
        if old is not None:
            require_visible(actor, old.jurisdiction)
        check(s)
        upsert(s, table, {"id": unit_id}, values)
        uow.commit()


def _require_enterprises(s: Session, actor: Principal, codes: list[str]) -> None:
    known = {
        code
        for code, where in s.execute(
            select(enterprises.c.credit_code, enterprises.c.jurisdiction).where(
                enterprises.c.credit_code.in_(codes)
            )
        ).all()
        if actor.can_see(where)
    }
    missing = [k for k in codes if k not in known]
    if missing:
        raise Invalid.field(
            "key_enterprises", f"no such enterprises in your subtree: {', '.join(missing)}"
        )


def list_teams(uow: UnitOfWork, actor: Principal) -> list[dict[str, Any]]:
    with uow.read() as s:
        rows = s.execute(
            select(teams)
            .where(teams.c.jurisdiction.startswith(subtree_prefix(actor.jurisdiction)))
            .order_by(teams.c.id)
        ).mappings()
        return [{**dict(r), "key_enterprises": json.loads(r["key_enterprises"])} for r in rows]


def _require_staff(s: Session, actor: Principal, ids: list[str]) -> None:
    rows = {
        r.id: r
        for r in s.execute(select(units).where(units.c.id.in_(ids), units.c.type == "staff"))
    }
    missing = [i for i in ids if i not in rows]
    if missing:
        raise Invalid.field("staff_ids", f"unknown staff: {', '.join(missing)}")
    for r in rows.values():
        require_visible(actor, r.jurisdiction)


def put_station(
    uow: UnitOfWork, actor: Principal, station_id: str, command: dict[str, Any]
) -> dict[str, Any]:
    """A service station (CX 服务站) and the staff who take turns on duty there."""
    _check_id("station", station_id)
    require_visible(actor, command["jurisdiction"])
    staff_ids = list(dict.fromkeys(command["staff_ids"]))
    values = {
        "name": command["name"],
        "jurisdiction": command["jurisdiction"],
        "staff_ids": json.dumps(staff_ids),
        "updated_at": datetime.now(UTC),
    }
    _put(uow, actor, stations, station_id, values, lambda s: _require_staff(s, actor, staff_ids))
    return {"id": station_id, **values, "staff_ids": staff_ids}


def record_duty(
    uow: UnitOfWork, actor: Principal, station_id: str, command: dict[str, Any]
) -> dict[str, Any]:
    """The duty roster: the days a station's staff member was on duty (idempotent)."""
    today = china_today()
    staff_id = command["staff_id"]
    with uow:
        s = uow.session
        st = s.execute(select(stations).where(stations.c.id == station_id)).first()
        if st is None or not actor.can_see(st.jurisdiction):
            raise NotFound(f"No station {station_id} in your subtree.")
        if staff_id not in json.loads(st.staff_ids):
            raise Invalid.field("staff_id", f"{staff_id} is not on {station_id}'s staff")
        if any(d > today for d in command["days"]):
            raise Invalid.field("days", "duty is recorded for days that have begun")
        added = 0
        for day in sorted(set(command["days"])):
            added += claim(
                s,
                uow.db,
                duty_days,
                staff_id=staff_id,
                day=day,
                station_id=station_id,
                recorded_by=actor.key_id,
            )
        uow.commit()
    return {"station_id": station_id, "staff_id": staff_id, "recorded": added}
