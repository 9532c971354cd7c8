"""Seeding a map, an alliance and a menu: only what is missing, announced like the map's
own changes."""

from sqlalchemy import func, select

from services.dispatch.models import agencies, menu_items
from services.dispatch.seed import seed_responsibility
from tests.fakes import FakeUnitOfWork


def test_seeding_is_idempotent(uow: FakeUnitOfWork) -> None:
    rows = [("cd", "630102", "城东区科学技术局", (), True)]
    assert seed_responsibility(uow, rows, [], [], "630100") == 1
    assert seed_responsibility(uow, rows, [], [], "630100") == 0


def test_departments_and_staff_are_announced_agencies_and_prices_stored(
    uow: FakeUnitOfWork,
) -> None:
    added = seed_responsibility(
        uow,
        [("cd", "630102", "城东区科学技术局", ("ip",), True)],
        [("s-1", "cd", "陈静", "包保专员")],
        [("pat-a", "知桥专利", "patent", 55), ("pat-b", "智权", "patent", 8)],
        "630100",
        leaders={"cd": "s-1"},
        menu=[("ip_filing", 3000, None, None)],
    )
    assert added == 5
    assert uow.types() == ["department.updated", "staff.updated"]
    dept, person = (e.payload for e in uow.committed)
    assert (dept["segments"], dept["leader_staff_id"]) == (["ip"], "s-1")
    assert (person["jurisdiction"], person["department_id"]) == ("630102", "cd")
    with uow.read() as s:
        members = dict(s.execute(select(agencies.c.id, agencies.c.engagements_two_years)).all())
        assert members == {"pat-a": 13, "pat-b": 5}  # at least the admission threshold
        assert s.execute(select(func.count()).select_from(menu_items)).scalar() == 1
    assert seed_responsibility(uow, [], [], [], "630100", menu=[("ip_filing", 9, None, None)]) == 0
