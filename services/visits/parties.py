"""Who visited whom, checked: the visiting unit (a staff member, their department, a
service team), the enterprises visited, the demands followed up — known to visits and
within the actor's subtree — and the visit's day and times. Shared by the visit log and
the plans (a plan names the same parties)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from services.visits.models import demands, enterprises, teams, units
from shared.auth import Principal
from shared.timezone import china_today
from shared.usecases import Forbidden, Invalid


@dataclass(frozen=True)
class Visitor:
    """The visiting unit as named, completed: a staff member's department is theirs."""

    staff_name: str | None
    department_id: str | None
    department_name: str | None
    places: tuple[str, ...]  # the jurisdictions of every unit named, the first first


def resolve(s: Session, actor: Principal, data: Mapping[str, Any]) -> dict[str, Any]:
    """Check who visited and whom: known units that belong together, known enterprises,
    known demands followed up — all within the actor's subtree — then the times."""
    visitor = visiting_unit(s, data)
    for code in visitor.places:
        if not actor.can_see(code):
            raise Forbidden(f"The visiting unit belongs to {code}, outside your subtree.")
    ents = visited_enterprises(s, actor, list(dict.fromkeys(data["enterprises"])))
    for raised in data.get("demands_raised") or []:
        if raised["credit_code"] not in data["enterprises"]:
            raise Invalid.field(
                "demands_raised", "a demand raised on the visit names a visited enterprise"
            )
    followed = followed_demands(s, actor, data)
    return {
        "staff_name": visitor.staff_name,
        "department_name": visitor.department_name,
        "department_id": visitor.department_id,
        "jurisdiction": visitor.places[0],
        "enterprises": ents,
        "followed": followed,
        "duration_minutes": duration(data, china_today(), datetime.now(UTC)),
    }


def visiting_unit(s: Session, data: Mapping[str, Any]) -> Visitor:
    staff_id, dept_id, team_id = (
        data.get("staff_id"),
        data.get("department_id"),
        data.get("team_id"),
    )
    if not (staff_id or dept_id or team_id):
        raise Invalid.field("staff_id", "name the staff member, the department or the service team")
    places: list[str] = []
    staff_name = dept_name = None
    if staff_id:
        person = _staff_member(s, staff_id, dept_id)
        staff_name, dept_id = person.name, person.department_id
        places.append(person.jurisdiction)
    if dept_id:
        dept = _unit(s, dept_id, "department")
        if dept is None:
            field = "department_id" if data.get("department_id") else "staff_id"
            raise Invalid.field(field, f"unknown department {dept_id} (not announced yet?)")
        dept_name = dept.name
        places.append(dept.jurisdiction)
    if team_id:
        team = s.execute(select(teams.c.jurisdiction).where(teams.c.id == team_id)).first()
        if team is None:
            raise Invalid.field("team_id", f"unknown service team {team_id}")
        places.append(team.jurisdiction)
    return Visitor(staff_name, dept_id, dept_name, tuple(places))


def _staff_member(s: Session, staff_id: str, dept_id: str | None) -> Any:
    """A known staff member, of the department named with them if one is."""
    person = _unit(s, staff_id, "staff")
    if person is None:
        raise Invalid.field("staff_id", f"unknown staff member {staff_id}")
    if dept_id and dept_id != person.department_id:
        raise Invalid.field("department_id", f"{staff_id} belongs to {person.department_id}")
    return person


def _unit(s: Session, unit_id: str, kind: str) -> Any:
    return s.execute(select(units).where(units.c.id == unit_id, units.c.type == kind)).first()


def visited_enterprises(s: Session, actor: Principal, codes: list[str]) -> list[dict[str, str]]:
    """The enterprises, in the order given: each registered and within the subtree."""
    found = {
        e.credit_code: e
        for e in s.execute(select(enterprises).where(enterprises.c.credit_code.in_(codes)))
    }
    out = []
    for code in codes:
        ent = found.get(code)
        if ent is None:
            raise Invalid.field("enterprises", f"unknown enterprise {code} (register it in intake)")
        if not actor.can_see(ent.jurisdiction):
            raise Forbidden(
                f"Enterprise {code} is registered in {ent.jurisdiction}, outside your subtree."
            )
        out.append({"credit_code": code, "name": ent.name, "jurisdiction": ent.jurisdiction})
    return out


def followed_demands(s: Session, actor: Principal, data: Mapping[str, Any]) -> list[dict[str, str]]:
    """The demands the visit follows up: each known, within the subtree and a demand of
    a visited enterprise."""
    codes = list(dict.fromkeys(data.get("follow_up_of") or []))
    if not codes:
        return []
    found = {d.code: d for d in s.execute(select(demands).where(demands.c.code.in_(codes)))}
    out = []
    for code in codes:
        d = found.get(code)
        if d is None or not actor.can_see(d.jurisdiction):
            raise Invalid.field("follow_up_of", f"no demand {code} in your subtree")
        if d.credit_code not in data["enterprises"]:
            raise Invalid.field("follow_up_of", f"{code} is a demand of an enterprise not visited")
        out.append({"code": code, "jurisdiction": d.jurisdiction})
    return out


def duration(data: Mapping[str, Any], today: date, now: datetime) -> int | None:
    """Check the visit's day and times; the duration in minutes (given, or from the
    start and end, which must agree with a given one within a minute)."""
    if data["visited_on"] > today:
        raise Invalid.field("visited_on", "a visit cannot be in the future")
    started, ended = data.get("started_at"), data.get("ended_at")
    minutes: int | None = data.get("duration_minutes")
    if ended is not None and started is None:
        raise Invalid.field("started_at", "give the start with the end")
    if started is None:
        return minutes
    if started > now:
        raise Invalid.field("started_at", "a visit cannot start in the future")
    if china_today(started) != data["visited_on"]:
        raise Invalid.field("started_at", "the visit starts on visited_on (China time)")
    if ended is None:
        return minutes
    return _span(started, ended, now, minutes)


def _span(started: datetime, ended: datetime, now: datetime, minutes: int | None) -> int:
    if ended <= started:
        raise Invalid.field("ended_at", "the visit must end after it starts")
    if ended > now:
        raise Invalid.field("ended_at", "a visit cannot end in the future")
    spanned = max(1, round((ended - started).total_seconds() / 60))
    if minutes is not None and abs(minutes - spanned) > 1:
        raise Invalid.field(
            "duration_minutes", f"the start and end say {spanned} minutes, not {minutes}"
        )
    return spanned
