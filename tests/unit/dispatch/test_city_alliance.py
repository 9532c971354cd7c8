"""Which alliance serves a jurisdiction (the nearest unit with members, at any level),
and who may manage or read it."""

from datetime import UTC, datetime

import pytest
from sqlalchemy import insert

from services.dispatch.city_alliance import alliance_of, city_scope
from services.dispatch.membership import admitted_row
from services.dispatch.models import agencies
from shared.usecases import Forbidden, Invalid
from tests.fakes import actor


def members_in(uow, *units):
    now = datetime.now(UTC)
    with uow:
        for i, unit in enumerate(units):
            data = {"id": f"ag-{i}", "name": "机构", "category": "rd", "rank_basis": 1}
            row = admitted_row({**data, "engagements_two_years": 6}, unit, None, now)
            uow.session.execute(insert(agencies).values(**row))
        uow.commit()


def test_without_members_a_jurisdiction_falls_to_its_prefecture(uow):
    with uow.read() as s:
        assert alliance_of(s, "630102") == "630100"
        assert alliance_of(s, "630100") == "630100"
        assert alliance_of(s, "630000") is None  # a province without members has none


def test_a_county_level_city_running_its_own_station_serves_its_own_demands(uow):
    """慈溪 (330282) is a county-level city with its own alliance; here 城东区 plays it."""
    members_in(uow, "630100", "630102")
    with uow.read() as s:
        assert alliance_of(s, "630102") == "630102"
        assert alliance_of(s, "630102-P0001") == "630102"  # its park too
        assert alliance_of(s, "630103") == "630100"  # a sibling keeps the prefecture's
        assert alliance_of(s, "630000") is None


def test_a_city_is_managed_by_keys_over_it_and_read_from_below():
    assert city_scope(actor("admin", "630000"), "630100") == "630100"
    assert city_scope(actor("district", "630100"), "630100") == "630100"
    with pytest.raises(Forbidden, match="City 630100 is outside your subtree"):
        city_scope(actor("district", "630102"), "630100")
    assert city_scope(actor("staff", "630102"), "630100", read=True) == "630100"
    with pytest.raises(Forbidden):
        city_scope(actor("staff", "630202"), "630100", read=True)


def test_a_unit_at_any_level_names_an_alliance_and_a_bad_code_is_invalid():
    assert city_scope(actor("admin", "630000"), "630102", "json") == "630102"
    assert city_scope(actor("admin", "630100"), "630102-P0001") == "630102-P0001"
    with pytest.raises(Invalid) as e:
        city_scope(actor("admin", "630000"), "63x")
    assert list(e.value.fields["path"]) == ["city"]
