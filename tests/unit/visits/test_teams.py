"""Service teams, stations and the duty roster on a fake unit of work."""

from datetime import date, timedelta

import pytest
from sqlalchemy import select

from services.visits.models import duty_days, stations, teams
from services.visits.teams import list_teams, put_station, put_team, record_duty
from shared.errors import status_of
from shared.timezone import china_today
from shared.usecases import DomainError, Forbidden, Invalid, NotFound
from tests.factories import VisitsWorld
from tests.fakes import actor

ADMIN = actor("admin", "630000", key_id="k")
XINING = actor("district", "630100")
E1, E2, E3 = VisitsWorld.E1, VisitsWorld.E2, VisitsWorld.E3
TEAM = {"name": "省服务专班一组", "jurisdiction": "630000", "linked_city": "630100"}


def refusal(call, *args, **kwargs):
    with pytest.raises(DomainError) as caught:
        call(*args, **kwargs)
    exc = caught.value
    if not exc.fields:
        return status_of(exc), exc.message
    [(where, found)] = exc.fields.items()
    [(field, [message])] = found.items()
    return status_of(exc), where, field, message


def test_a_team_is_put_and_put_again(uow):
    first = put_team(uow, ADMIN, "sx-1", {**TEAM, "key_enterprises": [E1, E2, E1]})
    assert first["key_enterprises"] == [E1, E2]
    again = put_team(uow, ADMIN, "sx-1", {**TEAM, "name": "一组", "key_enterprises": [E3]})
    assert (again["name"], again["key_enterprises"]) == ("一组", [E3])
    with uow.read() as s:
        [row] = s.execute(select(teams)).mappings().all()
    assert (row["name"], row["key_enterprises"]) == ("一组", f'["{E3}"]')
    assert [t["id"] for t in list_teams(uow, ADMIN)] == ["sx-1"]
    assert list_teams(uow, XINING) == []  # a provincial team is not in a city's subtree
    assert uow.committed == []  # teams are not announced


def test_a_team_is_refused_with_the_field_to_blame(uow):
    assert refusal(put_team, uow, ADMIN, "sx 1", {**TEAM, "key_enterprises": []}) == (
        422,
        "path",
        "team_id",
        "1-40 letters, digits, - or _",
    )
    assert refusal(
        put_team, uow, ADMIN, "sx-1", {**TEAM, "linked_city": "630102", "key_enterprises": []}
    ) == (422, "json", "linked_city", "a city (prefecture) of the team's province")
    assert refusal(
        put_team, uow, ADMIN, "sx-1", {**TEAM, "key_enterprises": [E1, "91630102MA0000XXXX"]}
    ) == (
        422,
        "json",
        "key_enterprises",
        "no such enterprises in your subtree: 91630102MA0000XXXX",
    )
    assert (
        refusal(
            put_team,
            uow,
            XINING,
            "sx-1",
            {**TEAM, "jurisdiction": "630100", "key_enterprises": [E3]},
        )[3]
        == f"no such enterprises in your subtree: {E3}"
    )
    assert refusal(put_team, uow, XINING, "sx-1", {**TEAM, "key_enterprises": []}) == (
        403,
        "Jurisdiction 630000 is outside your subtree.",
    )


def test_a_team_of_another_subtree_is_not_taken_over(uow):
    put_team(uow, ADMIN, "sx-1", {**TEAM, "key_enterprises": []})
    with pytest.raises(Forbidden):
        put_team(uow, XINING, "sx-1", {**TEAM, "jurisdiction": "630100", "key_enterprises": []})


def station(uow, who=ADMIN, **more):
    command = {"name": "城东区服务站", "jurisdiction": "630102", "staff_ids": ["s-1", "s-3"]}
    return put_station(uow, who, "cx-1", {**command, **more})


def test_a_station_keeps_known_staff_of_the_subtree(uow):
    assert station(uow, staff_ids=["s-1", "s-1", "s-3"])["staff_ids"] == ["s-1", "s-3"]
    assert station(uow, name="新站")["name"] == "新站"
    with uow.read() as s:
        assert s.execute(select(stations.c.name)).scalars().all() == ["新站"]
    assert refusal(station, uow, ADMIN, staff_ids=["s-1", "nobody", "cd-kjj"]) == (
        422,
        "json",
        "staff_ids",
        "unknown staff: nobody, cd-kjj",
    )
    with pytest.raises(Forbidden):
        station(uow, XINING, staff_ids=["s-2"])  # a staff member of 海东
    with pytest.raises(Invalid):
        put_station(uow, ADMIN, "cx/1", {"name": "n", "jurisdiction": "630102", "staff_ids": []})


def test_duty_days_are_recorded_once(uow):
    station(uow)
    today = china_today()
    days = [today - timedelta(days=2), today - timedelta(days=1), today - timedelta(days=2)]
    first = record_duty(uow, ADMIN, "cx-1", {"staff_id": "s-1", "days": days})
    assert first == {"station_id": "cx-1", "staff_id": "s-1", "recorded": 2}
    again = record_duty(uow, ADMIN, "cx-1", {"staff_id": "s-1", "days": [*days, today]})
    assert again["recorded"] == 1
    with uow.read() as s:
        rows = s.execute(select(duty_days.c.day, duty_days.c.recorded_by)).all()
    assert sorted(rows) == [(d, "k") for d in sorted({*days, today})]


def test_duty_is_refused_for_the_future_a_stranger_or_an_unknown_station(uow):
    station(uow)
    today = china_today()
    assert refusal(
        record_duty, uow, ADMIN, "cx-1", {"staff_id": "s-1", "days": [today + timedelta(1)]}
    ) == (422, "json", "days", "duty is recorded for days that have begun")
    assert refusal(record_duty, uow, ADMIN, "cx-1", {"staff_id": "s-2", "days": [today]}) == (
        422,
        "json",
        "staff_id",
        "s-2 is not on cx-1's staff",
    )
    with pytest.raises(NotFound, match="No station cx-1 in your subtree"):
        record_duty(uow, actor("district", "630200"), "cx-1", {"staff_id": "s-1", "days": []})
    with pytest.raises(NotFound):
        record_duty(uow, ADMIN, "cx-9", {"staff_id": "s-1", "days": [date(2026, 1, 5)]})
