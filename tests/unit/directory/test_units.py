"""The unit tree: opened below one's own unit, platform-coded, renamed, retired and
reopened — every change kept and announced."""

from __future__ import annotations

import pytest

from services.directory.units import change_unit, get_unit, list_units, open_unit
from shared.events import jurisdiction_path
from shared.usecases import Conflict, Forbidden, Invalid, NotFound
from tests.fakes import actor


def test_parks_stations_and_workstations_get_platform_codes_below_their_parent(uow, city_admin):
    park = open_unit(uow, city_admin, {"parent": "630102", "kind": "park", "name": "东川工业园区"})
    assert park["code"] == "630102-P0001" and park["source"] == "platform"
    assert park["path"] == ["630000", "630100", "630102", "630102-P0001"]
    second = open_unit(uow, city_admin, {"parent": "630102", "kind": "park", "name": "二园"})
    assert second["code"] == "630102-P0002"
    station = open_unit(uow, city_admin, {"parent": "630100", "kind": "station", "name": "站"})
    assert station["code"] == "630100-S0001"
    work = open_unit(
        uow, city_admin, {"parent": "630102-P0001", "kind": "workstation", "name": "工作站"}
    )
    assert work["code"] == "630102-P0001-W0001"
    assert jurisdiction_path(work["code"])[-2] == "630102-P0001"
    assert uow.types() == ["jurisdiction.opened"] * 4
    assert uow.committed[0].routing_key == "jurisdiction.opened.630000.630100.630102.630102-P0001"
    assert [c["code"] for c in get_unit(uow, city_admin, "630102")["children"]] == [
        "630102-P0001",
        "630102-P0002",
    ]


def test_a_township_has_its_national_code(uow, city_admin):
    town = open_unit(
        uow,
        city_admin,
        {"parent": "630102", "kind": "township", "name": "乐家湾镇", "code": "630102100"},
    )
    assert town["source"] == "nbs" and town["path"][-1] == "630102100"
    for code in (None, "630103100", "63010210"):
        with pytest.raises(Invalid):
            open_unit(
                uow, city_admin, {"parent": "630102", "kind": "township", "name": "x", "code": code}
            )
    with pytest.raises(Conflict):
        open_unit(
            uow,
            city_admin,
            {"parent": "630102", "kind": "township", "name": "y", "code": "630102100"},
        )


@pytest.mark.parametrize(
    ("who", "command", "error"),
    [
        (("admin", "630102"), {"parent": "630103", "kind": "park", "name": "x"}, Forbidden),
        (("staff", "630100"), {"parent": "630102", "kind": "park", "name": "x"}, Forbidden),
        (("admin", "630100"), {"parent": "630104", "kind": "park", "name": "x"}, Invalid),
        (("admin", "630000"), {"parent": "630000", "kind": "park", "name": "x"}, Invalid),
        (("admin", "630000"), {"parent": "630102", "kind": "workstation", "name": "x"}, Invalid),
    ],
)
def test_who_may_open_what_where(uow, who, command, error):
    with pytest.raises(error):
        open_unit(uow, actor(*who), command)
    assert uow.committed == []


def test_rename_retire_reopen_keep_every_change(uow, city_admin):
    change_unit(uow, city_admin, "630102", {"name": "城东新区"})
    retired = change_unit(uow, city_admin, "630102", {"retire": True, "successor": "630103"})
    assert retired["retired"] and retired["successor"] == "630103"
    assert uow.directory.jurisdiction("630102")["retired"]
    with pytest.raises(Conflict):
        change_unit(uow, city_admin, "630102", {"name": "again"})
    with pytest.raises(Invalid):  # a retired unit takes no new units
        open_unit(uow, city_admin, {"parent": "630102", "kind": "park", "name": "x"})
    reopened = change_unit(uow, city_admin, "630102", {"reopen": True})
    assert not reopened["retired"] and reopened["name"] == "城东新区"
    assert [c["kind"] for c in reopened["changes"]] == ["opened", "renamed", "retired", "reopened"]
    assert uow.types() == ["jurisdiction.renamed", "jurisdiction.retired", "jurisdiction.reopened"]
    assert list_units(uow, city_admin, {"parent": "630100"})["items"][0]["name"] == "城东新区"


def test_one_cannot_change_ones_own_unit_or_an_unknown_one(uow, city_admin):
    with pytest.raises(Forbidden):
        change_unit(uow, city_admin, "630100", {"name": "x"})
    with pytest.raises(NotFound):
        change_unit(uow, city_admin, "630109", {"name": "x"})
    with pytest.raises(Invalid):
        change_unit(uow, city_admin, "630102", {"retire": True, "successor": "630102"})


def test_the_tree_is_listed_by_subtree_name_and_level(uow, city_admin):
    open_unit(uow, city_admin, {"parent": "630102", "kind": "park", "name": "东川工业园区"})
    within = list_units(uow, city_admin, {"within": "630102"})["items"]
    assert [u["code"] for u in within] == ["630102", "630102-P0001"]
    assert [u["code"] for u in list_units(uow, city_admin, {"q": "工业"})["items"]] == [
        "630102-P0001"
    ]
    assert {u["code"] for u in list_units(uow, city_admin, {"level": "province"})["items"]} == {
        "620000",
        "630000",
    }
