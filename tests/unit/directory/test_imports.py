"""Importing the official divisions: checked whole, planned, recorded and announced;
idempotent; history names successors."""

from __future__ import annotations

import pytest

from services.directory.imports import DIVISIONS, import_divisions, province_rows
from shared.usecases import Forbidden, Invalid
from tests.fakes import actor

HEADER = "code,name,level,parent"


def test_qinghai_from_the_vendored_list_then_nothing_on_a_second_import(uow, province_admin):
    rows = province_rows(DIVISIONS, "630000")
    first = import_divisions(uow, province_admin, rows)
    assert first["rows"] == 1 + 8 + 44
    # the test tree had 630000, 630100, 630102 and 630103 (and 620000, out of scope)
    assert first["changes"]["opened"] == first["rows"] - 4
    assert import_divisions(uow, province_admin, rows)["changes"] == {
        k: 0 for k in first["changes"]
    }
    assert uow.directory.jurisdiction("632800")["name"].startswith("海西")


def test_a_unit_missing_from_the_file_is_retired_with_its_successor(uow, province_admin):
    text = "\n".join(
        [
            HEADER,
            "630000,青海省,province,",
            "630100,西宁市,prefecture,630000",
            "630102,城东区,county,630100",
        ]
    )
    report = import_divisions(
        uow,
        province_admin,
        text,
        history="year,kind,code,name,successor,successor_name,note\n2019,recoded,630103,城中区,630102,城东区,\n",
    )
    assert report["changes"]["retired"] == 1
    unit = uow.directory.jurisdiction("630103")
    assert unit["retired"] and unit["successor"] == "630102"
    assert uow.directory.jurisdiction("620000")["retired"] is False  # another province


def test_a_file_with_a_bad_line_changes_nothing(uow, province_admin):
    text = "\n".join([HEADER, "630000,青海省,province,", "63010,西宁,prefecture,630000"])
    with pytest.raises(Invalid) as err:
        import_divisions(uow, province_admin, text)
    assert list(err.value.fields["file"]) == ["line 3"]
    assert uow.committed == []


def test_only_a_provinces_administrator_imports(uow, city_admin):
    with pytest.raises(Forbidden):
        import_divisions(uow, city_admin, HEADER + "\n630000,青海省,province,")
    with pytest.raises(Forbidden):
        import_divisions(uow, actor("admin", "630000"), HEADER + "\n620000,甘肃省,province,")
