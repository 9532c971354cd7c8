"""Who visited whom, checked against visits' copy of the units, enterprises and demands
(a fake unit of work); the visit's times, checked without a database."""

from datetime import UTC, date, datetime, timedelta

import pytest
from sqlalchemy import insert

from services.visits.models import demands, units
from services.visits.parties import duration, resolve
from services.visits.teams import put_team
from shared.errors import status_of
from shared.usecases import Forbidden, Invalid
from tests.factories import VisitsWorld
from tests.fakes import actor

ADMIN = actor("admin", "630000", key_id="k")
HAIDONG = actor("district", "630200")
E1, E2, E3 = VisitsWorld.E1, VisitsWorld.E2, VisitsWorld.E3
TODAY = date(2026, 11, 25)
NOW = datetime(2026, 11, 25, 8, 0, tzinfo=UTC)  # 16:00 in China


def check(uow, principal=ADMIN, **data):
    data.setdefault("visited_on", TODAY - timedelta(days=1))
    data.setdefault("enterprises", [E1])
    with uow.read() as s:
        return resolve(s, principal, data)


def refusal(uow, principal=ADMIN, **data):
    with pytest.raises((Invalid, Forbidden)) as caught:
        check(uow, principal, **data)
    exc = caught.value
    field = next(iter(exc.fields["json"])) if exc.fields else None
    return status_of(exc), field, (exc.fields["json"][field][0] if field else exc.message)


# --- the visiting unit --------------------------------------------------------------------


def test_a_staff_member_brings_their_department(uow):
    who = check(uow, staff_id="s-1", enterprises=[E1, E2, E1])
    assert who["staff_name"] == "陈静"
    assert (who["department_id"], who["department_name"]) == ("cd-kjj", "城东区科学技术局")
    assert who["jurisdiction"] == "630102"
    assert [e["credit_code"] for e in who["enterprises"]] == [E1, E2]  # each once
    assert who["enterprises"][0] == {
        "credit_code": E1,
        "name": "青海高原新材料科技有限公司",
        "jurisdiction": "630102",
    }
    assert (who["followed"], who["duration_minutes"]) == ([], None)


def test_a_team_visit_is_filed_in_the_teams_jurisdiction(uow):
    put_team(
        uow,
        ADMIN,
        "sx-1",
        {"name": "一组", "jurisdiction": "630000", "linked_city": "630100", "key_enterprises": []},
    )
    who = check(uow, team_id="sx-1")
    assert (who["jurisdiction"], who["department_id"], who["staff_name"]) == ("630000", None, None)


def test_the_visiting_unit_must_be_named_known_and_consistent(uow):
    assert refusal(uow) == (
        422,
        "staff_id",
        "name the staff member, the department or the service team",
    )
    assert refusal(uow, staff_id="nobody") == (422, "staff_id", "unknown staff member nobody")
    assert refusal(uow, staff_id="s-1", department_id="hd-kjj") == (
        422,
        "department_id",
        "s-1 belongs to cd-kjj",
    )
    assert refusal(uow, department_id="x") == (
        422,
        "department_id",
        "unknown department x (not announced yet?)",
    )
    assert refusal(uow, team_id="sx-9") == (422, "team_id", "unknown service team sx-9")


def test_a_staff_member_of_a_department_not_announced_is_blamed_on_staff_id(uow):
    with uow:
        uow.session.execute(
            insert(units).values(
                id="s-9", type="staff", name="新人", jurisdiction="630102", department_id="new"
            )
        )
        uow.commit()
    assert refusal(uow, staff_id="s-9") == (
        422,
        "staff_id",
        "unknown department new (not announced yet?)",
    )


def test_the_visiting_unit_and_the_enterprises_stay_in_the_subtree(uow):
    assert refusal(uow, HAIDONG, staff_id="s-1", enterprises=[E3]) == (
        403,
        None,
        "The visiting unit belongs to 630102, outside your subtree.",
    )
    assert refusal(uow, HAIDONG, staff_id="s-2", enterprises=[E3, E1]) == (
        403,
        None,
        f"Enterprise {E1} is registered in 630102, outside your subtree.",
    )
    assert refusal(uow, staff_id="s-1", enterprises=[E1, "91630102MA0000XXXX"]) == (
        422,
        "enterprises",
        "unknown enterprise 91630102MA0000XXXX (register it in intake)",
    )


# --- demands raised and followed up ------------------------------------------------------------


def test_a_demand_raised_names_a_visited_enterprise(uow):
    raised = [{"credit_code": E2, "category": "technology"}]
    assert refusal(uow, staff_id="s-1", demands_raised=raised) == (
        422,
        "demands_raised",
        "a demand raised on the visit names a visited enterprise",
    )


def test_a_follow_up_names_a_known_demand_of_a_visited_enterprise(uow):
    with uow:
        for code, where, ent in [("D1", "630102", E1), ("D2", "630102", E2), ("D3", "630202", E3)]:
            uow.session.execute(
                insert(demands).values(code=code, jurisdiction=where, credit_code=ent)
            )
        uow.commit()
    who = check(uow, staff_id="s-1", follow_up_of=["D1", "D1"])
    assert who["followed"] == [{"code": "D1", "jurisdiction": "630102"}]
    assert refusal(uow, staff_id="s-1", follow_up_of=["D2"]) == (
        422,
        "follow_up_of",
        "D2 is a demand of an enterprise not visited",
    )
    assert refusal(uow, staff_id="s-2", enterprises=[E3], follow_up_of=["D9"]) == (
        422,
        "follow_up_of",
        "no demand D9 in your subtree",
    )
    assert refusal(uow, HAIDONG, staff_id="s-2", enterprises=[E3], follow_up_of=["D1"]) == (
        422,
        "follow_up_of",
        "no demand D1 in your subtree",
    )


# --- the day and the times (pure) -------------------------------------------------------------


def minutes(**data):
    data.setdefault("visited_on", TODAY)
    return duration(data, TODAY, NOW)


def refused(**data):
    with pytest.raises(Invalid) as caught:
        minutes(**data)
    [(field, [message])] = caught.value.fields["json"].items()
    return field, message


def at(hour, minute=0):
    return datetime(2026, 11, 25, hour, minute, tzinfo=UTC)  # China time is 8 hours ahead


def test_the_duration_is_given_or_spanned():
    assert minutes() is None
    assert minutes(duration_minutes=45) == 45
    assert minutes(started_at=at(1), duration_minutes=45) == 45  # no end: as given
    assert minutes(started_at=at(1), ended_at=at(2, 30)) == 90
    assert minutes(started_at=at(1), ended_at=at(2, 30), duration_minutes=91) == 90  # ± 1
    assert minutes(started_at=at(1), ended_at=at(1, 0) + timedelta(seconds=20)) == 1


def test_the_day_and_times_must_be_possible():
    assert refused(visited_on=TODAY + timedelta(days=1)) == (
        "visited_on",
        "a visit cannot be in the future",
    )
    assert refused(ended_at=at(2)) == ("started_at", "give the start with the end")
    assert refused(started_at=at(9)) == ("started_at", "a visit cannot start in the future")
    # 23:00 UTC on the 24th is 07:00 on the 25th in China: another day than the 24th
    early = datetime(2026, 11, 24, 23, tzinfo=UTC)
    assert refused(visited_on=date(2026, 11, 24), started_at=early) == (
        "started_at",
        "the visit starts on visited_on (China time)",
    )
    assert refused(started_at=at(2), ended_at=at(2)) == (
        "ended_at",
        "the visit must end after it starts",
    )
    assert refused(started_at=at(2), ended_at=at(9)) == (
        "ended_at",
        "a visit cannot end in the future",
    )
    assert refused(started_at=at(1), ended_at=at(2), duration_minutes=30) == (
        "duration_minutes",
        "the start and end say 60 minutes, not 30",
    )
