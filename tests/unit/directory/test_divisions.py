"""The division files and the import plan (services/directory/divisions.py).

First the vendored data (it parses clean; Qinghai has 8 prefecture-level and 44 county-level
units; the history knows 海东 and 湟中), then each problem a file can have with its line,
then the plan kind by kind with Qinghai's real history, and a property test: planning,
applying the plan and planning again gives nothing.
"""

from __future__ import annotations

import csv
import io
from collections import Counter

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from services.directory.divisions import (
    CHANGE_KINDS,
    DATA_DIR,
    LEVELS,
    Change,
    Division,
    Unit,
    final_successor,
    outside_parents,
    plan_import,
    read_changes,
    read_divisions,
    summary,
)

HEADER = "code,name,level,parent\n"


def vendored(name: str) -> str:
    return (DATA_DIR / name).read_text(encoding="utf-8")


def lines(*rows: str) -> str:
    return HEADER + "".join(r + "\n" for r in rows)


def div(code: str, name: str, level: str, parent: str | None = None) -> Division:
    return Division(code, name, level, parent)


def unit(code: str, name: str, level: str, parent: str | None, retired: bool = False) -> Unit:
    return Unit(code, name, level, parent, retired)


def directory(*units: Unit) -> dict[str, Unit]:
    return {u.code: u for u in units}


def apply(state: dict[str, Unit], changes: list[Change]) -> dict[str, Unit]:
    """The caller's part, purely: each change carries the unit's whole state after it.

    Checks the order on the way: a unit opened, reopened or moved finds its new parent active.
    """
    out = dict(state)
    for c in changes:
        if c.kind in ("opened", "reopened", "moved") and c.parent is not None:
            assert c.parent in out and not out[c.parent].retired, f"{c} before its parent"
        out[c.code] = Unit(c.code, c.name, c.level, c.parent, c.kind == "retired")
    return out


QINGHAI = [
    div("630000", "青海省", "province"),
    div("630100", "西宁市", "prefecture", "630000"),
    div("630102", "城东区", "county", "630100"),
    div("630106", "湟中区", "county", "630100"),
    div("630200", "海东市", "prefecture", "630000"),
    div("630203", "平安区", "county", "630200"),
]
GANSU = [
    unit("620000", "甘肃省", "province", None),
    unit("620100", "兰州市", "prefecture", "620000"),
    unit("620102", "城关区", "county", "620100"),
]


def state_of(divisions: list[Division]) -> dict[str, Unit]:
    return {d.code: Unit(d.code, d.name, d.level, d.parent, False) for d in divisions}


# --- the vendored data ----------------------------------------------------------


@pytest.fixture(scope="module")
def national() -> list[Division]:
    rows, problems = read_divisions(vendored("divisions.csv"))
    assert problems == {}
    return rows


def test_the_vendored_divisions_parse_clean_with_the_mca_counts(national):
    assert Counter(d.level for d in national) == {
        "province": 34,
        "prefecture": 333,
        "county": 2847,
    }
    codes = [d.code for d in national]
    assert codes == sorted(codes) and len(set(codes)) == len(codes)


def test_qinghai_has_8_prefecture_level_and_44_county_level_units(national):
    qinghai = [d for d in national if d.code.startswith("63")]
    prefectures = {d.code for d in qinghai if d.level == "prefecture"}
    counties = [d for d in qinghai if d.level == "county"]
    assert len(prefectures) == 8 and len(counties) == 44
    assert all(d.parent in prefectures for d in counties)
    names = {d.code: d.name for d in qinghai}
    assert names["630106"] == "湟中区" and names["632301"] == "同仁市"
    assert "630122" not in names and "632100" not in names


def test_a_county_directly_under_a_province_has_the_province_as_parent(national):
    parent = {d.code: d.parent for d in national}
    assert parent["110101"] == "110000"  # 东城区, Beijing
    assert parent["429004"] == "420000"  # 仙桃市


def test_the_vendored_townships_parse_clean_with_the_divisions():
    text = vendored("divisions.csv") + vendored("townships.csv").split("\n", 1)[1]
    rows, problems = read_divisions(text)
    assert problems == {}
    towns = [d for d in rows if d.level == "township"]
    assert len(towns) > 38000
    assert all(d.parent == d.code[:6] for d in towns)
    assert sum(d.code.startswith("63") for d in towns) == 403


def test_the_history_names_the_successors_of_haidong_and_huangzhong():
    successors = read_changes(vendored("changes.csv"))
    assert successors["632100"] == "630200"  # 海东地区 → 海东市, 2013
    assert successors["630122"] == "630106"  # 湟中县 → 湟中区, 2019
    assert successors["632121"] == "630221"  # 平安县 recoded 2013, then 平安区 2015
    assert successors["630221"] == "630203"
    assert "450104" not in successors  # Nanning's 城北区 is not Xining's: dropped


def test_abolished_townships_are_history_not_units():
    changes = list(csv.DictReader(io.StringIO(vendored("changes.csv"))))
    assert {r["kind"] for r in changes} <= {"renamed", "recoded", "retired"}
    retired_towns = {r["code"] for r in changes if len(r["code"]) == 9}
    assert all(
        r["kind"] == "retired" and "（" not in r["name"] for r in changes if len(r["code"]) == 9
    )
    live = {line.split(",", 1)[0] for line in vendored("townships.csv").splitlines()[1:]}
    assert "630202100" in retired_towns and not retired_towns & live


# --- problems in a file, by line ------------------------------------------------


VALID = [
    "630000,青海省,province,",
    "630100,西宁市,prefecture,630000",
    "630102,城东区,county,630100",
    "630102001,东关大街街道,township,630102",
]


@pytest.mark.parametrize(
    ("row", "words"),
    [
        ("630100,青海省,province,", "province code is xx0000"),
        ("630000,西宁市,prefecture,630000", "prefecture code is xxxx00"),
        ("630200,乐都区,county,630000", "county code is 6 digits"),
        ("63010a,城中区,county,630100", "county code"),
        ("63010200,某街道,township,630102", "township code is 9 digits"),
        ("630102000,某街道,township,630102", "township code is 9 digits"),
        ("630103,城中区,city,630100", "unknown level 'city'"),
        ("630103,,county,630100", "name is empty"),
        ("630103," + "长" * 101 + ",county,630100", "longer than 100"),
        ("630102,城东区,county,630100", "duplicate code 630102 (first on line 4)"),
        ("620102,城关区,county,", "parent not given and none of 620100, 620000 is in the file"),
        ("630103,城中区,county,620100", "parent 620100 is not an ancestor of 630103"),
        ("630000001,某镇,township,630000", "parent 630000 is a province"),
        ("620000,甘肃省,province,630000", "a province has no parent"),
        ("630103,城中区,county", "3 fields, 4 expected"),
    ],
)
def test_each_problem_is_reported_on_its_line(row, words):
    _, problems = read_divisions(lines(*VALID, row))
    assert list(problems) == [6]
    assert any(words in p for p in problems[6]), problems


def test_a_clean_file_has_no_problem_and_fills_in_parents():
    text = "\ufeff" + lines("630000,青海省,province,", "", " 630100 , 西宁市 ,prefecture,")
    rows, problems = read_divisions(text + "639001,某市,county,\n630102,城东区,county,\n")
    assert problems == {}
    assert [(d.code, d.name, d.parent) for d in rows] == [
        ("630000", "青海省", None),
        ("630100", "西宁市", "630000"),
        ("639001", "某市", "630000"),  # no 639000 prefecture: under the province
        ("630102", "城东区", "630100"),
    ]


def test_a_parent_outside_the_file_is_left_for_the_directory():
    rows, problems = read_divisions(
        lines("630102,城东区,county,630100", "630102001,街道,township,")
    )
    assert problems == {}
    assert outside_parents(rows) == {"630100"}
    assert rows[1].parent == "630102"


def test_a_township_may_sit_directly_under_a_prefecture_without_counties():
    text = lines("441900,东莞市,prefecture,440000", "441900003,东城街道,township,441900")
    assert read_divisions(text)[1] == {}


def test_several_problems_keep_their_own_lines():
    text = lines("630000,青海省,province,", "63010,西宁市,prefecture,", "630102,,county,630100")
    _, problems = read_divisions(text)
    assert sorted(problems) == [3, 4]
    assert len(problems[3]) == 1 and "prefecture code" in problems[3][0]


@pytest.mark.parametrize("text", ["", "code,name,level\n630000,青海省,province\n", "a,b,c,d\n"])
def test_a_bad_header_is_line_1(text):
    rows, problems = read_divisions(text)
    assert rows == [] and "header" in problems[1][0]


def test_a_file_without_rows_is_refused():
    assert read_divisions(HEADER)[1] == {1: ["the file has no divisions"]}


# --- the plan -------------------------------------------------------------------


def test_an_empty_directory_opens_everything_parents_first():
    plan = plan_import({}, list(reversed(QINGHAI)))
    assert [c.kind for c in plan] == ["opened"] * 6
    assert [c.code for c in plan][:3] == ["630000", "630100", "630200"]
    apply({}, plan)  # the order check


def test_a_new_name_is_a_rename_and_a_new_parent_a_move():
    state = state_of(QINGHAI) | directory(unit("630203", "平安县", "county", "630000"))
    plan = plan_import(state, QINGHAI)
    assert [(c.kind, c.code) for c in plan] == [("renamed", "630203"), ("moved", "630203")]
    renamed, moved = plan
    assert (renamed.name, renamed.old_name, renamed.parent) == ("平安区", "平安县", "630000")
    assert (moved.parent, moved.old_parent, moved.name) == ("630200", "630000", "平安区")
    assert "平安县 → 平安区" in renamed.reason
    assert apply(state, plan) == state_of(QINGHAI)


def test_a_retired_unit_in_the_file_again_is_reopened():
    state = state_of(QINGHAI) | directory(unit("630106", "湟中县", "county", "630100", True))
    (change,) = plan_import(state, QINGHAI)
    assert (change.kind, change.name, change.old_name, change.old_parent) == (
        "reopened",
        "湟中区",
        "湟中县",
        None,
    )
    assert apply(state, [change])["630106"] == Unit("630106", "湟中区", "county", "630100", False)


def test_an_absent_unit_in_scope_is_retired_and_kept():
    state = state_of(QINGHAI) | directory(unit("630111", "郊区", "county", "630100"))
    (change,) = plan_import(state, QINGHAI)
    assert (change.kind, change.code, change.name, change.successor) == (
        "retired",
        "630111",
        "郊区",
        None,
    )
    assert "covers 630000 青海省" in change.reason
    assert apply(state, [change])["630111"].retired


def test_qinghai_history_retires_haidong_and_huangzhong_with_their_successors():
    successors = read_changes(vendored("changes.csv"))
    today = [d for d in read_divisions(vendored("divisions.csv"))[0] if d.code.startswith("63")]
    old = directory(
        unit("630000", "青海省", "province", None),
        unit("632100", "海东地区", "prefecture", "630000"),
        unit("630100", "西宁市", "prefecture", "630000"),
        unit("630122", "湟中县", "county", "630100"),
        unit("632121", "平安县", "county", "632100"),
    )
    plan = plan_import(old, today, successors)
    retired = {c.code: c.successor for c in plan if c.kind == "retired"}
    assert retired == {"632100": "630200", "630122": "630106", "632121": "630203"}
    assert [c.kind for c in plan[-3:]] == ["retired"] * 3
    assert [c.code for c in plan[-3:]] == ["630122", "632121", "632100"]  # counties first
    assert "succeeded by 630106 湟中区" in next(c.reason for c in plan if c.code == "630122")
    assert summary(plan) == {"opened": 51, "reopened": 0, "renamed": 0, "moved": 0, "retired": 3}
    after = apply(old, plan)
    assert plan_import(after, today, successors) == []


def test_a_qinghai_file_retires_nothing_in_gansu():
    plan = plan_import(state_of(QINGHAI) | directory(*GANSU), QINGHAI)
    assert plan == []


def test_a_file_without_its_province_row_retires_nothing():
    state = state_of(QINGHAI)
    assert plan_import(state, [d for d in QINGHAI if d.code == "630102"]) == []


def test_platform_units_are_never_touched():
    park = unit("630102-P1", "东川工业园", "park", "630102")
    station = unit("630102-S1", "服务站", "station", "630102")
    state = state_of(QINGHAI) | directory(park, station, unit("630111", "郊区", "county", "630100"))
    plan = plan_import(state, QINGHAI)
    assert {c.code for c in plan} == {"630111"}


def test_townships_are_in_scope_only_when_the_file_has_them():
    towns = [
        unit("630102001", "东关大街街道", "township", "630102"),
        unit("630102009", "旧街道", "township", "630102"),
        unit("630203100", "平安镇", "township", "630203"),
        unit("630122100", "鲁沙尔镇", "township", "630122"),
    ]
    huangzhong = unit("630122", "湟中县", "county", "630100")
    state = state_of(QINGHAI) | directory(huangzhong, *towns)
    without = plan_import(state, QINGHAI)
    assert [(c.kind, c.code) for c in without] == [("retired", "630122")]
    file = [*QINGHAI, div("630102001", "东关大街街道", "township", "630102")]
    plan = plan_import(state, file, {"630122": "630106"})
    # 630203's townships are not listed: untouched; 630122 is retired, so are its townships
    assert [(c.kind, c.code, c.successor) for c in plan] == [
        ("retired", "630102009", None),
        ("retired", "630122100", None),
        ("retired", "630122", "630106"),
    ]


def test_reimporting_the_same_file_plans_nothing():
    state = apply({}, plan_import({}, QINGHAI))
    assert plan_import(state, QINGHAI) == []
    assert summary([]) == dict.fromkeys(CHANGE_KINDS, 0)


def test_successor_chains_stop_at_a_live_code_and_never_loop():
    successors = {"632121": "630221", "630221": "630203", "a": "b", "b": "a", "x": "gone"}
    assert final_successor("632121", successors, {"630203"}) == "630203"
    assert final_successor("632121", successors, {"630221", "630203"}) == "630221"
    assert final_successor("a", successors, set()) is None
    assert final_successor("x", successors, {"630203"}) is None
    assert final_successor("nothing", successors, {"630203"}) is None


def test_the_latest_event_of_a_code_names_its_successor():
    text = (
        "year,kind,code,name,successor,successor_name,note\n"
        "1984,recoded,632421,河南,632324,河南,\n"
        "1981,recoded,632421,河南,632399,河南,\n"
        ",retired,630202100,碾伯镇,,,\n"
        "1985,renamed,630121,大通县,,大通回族土族自治县,\n"
    )
    assert read_changes(text) == {"632421": "632324"}
    with pytest.raises(ValueError, match="successor"):
        read_changes("year,code\n")


def test_a_unit_whose_level_changed_is_moved():
    state = directory(
        unit("440000", "广东省", "province", None), unit("441900", "东莞市", "county", "440000")
    )
    file = [div("440000", "广东省", "province"), div("441900", "东莞市", "prefecture", "440000")]
    (change,) = plan_import(state, file)
    assert (change.kind, change.level, change.old_parent) == ("moved", "prefecture", "440000")


# --- property: plan, apply, plan again gives nothing ------------------------------

UNIVERSE = [
    div("630000", "青海省", "province"),
    div("620000", "甘肃省", "province"),
    div("630100", "西宁市", "prefecture", "630000"),
    div("630200", "海东市", "prefecture", "630000"),
    div("620100", "兰州市", "prefecture", "620000"),
    div("630102", "城东区", "county", "630100"),
    div("630103", "城中区", "county", "630100"),
    div("630203", "平安区", "county", "630200"),
    div("639001", "某市", "county", "630000"),
    div("620102", "城关区", "county", "620100"),
    div("630102001", "东关", "township", "630102"),
    div("630102002", "清真巷", "township", "630102"),
    div("630203100", "平安镇", "township", "630203"),
    div("620102001", "酒泉路", "township", "620102"),
]
BY_CODE = {d.code: d for d in UNIVERSE}
NAMES = st.sampled_from(["甲", "乙", "丙"])


@st.composite
def files(draw: st.DrawFn) -> list[Division]:
    """An ancestor-closed file over the universe, with random names (what read_divisions passes)."""
    chosen = set(draw(st.sets(st.sampled_from(sorted(BY_CODE)))))
    for code in list(chosen):
        while BY_CODE[code].parent:
            code = BY_CODE[code].parent  # type: ignore[assignment]
            chosen.add(code)
    return [div(c, draw(NAMES), BY_CODE[c].level, BY_CODE[c].parent) for c in sorted(chosen)]


@st.composite
def states(draw: st.DrawFn) -> dict[str, Unit]:
    out = {}
    for code in draw(st.sets(st.sampled_from(sorted(BY_CODE)))):
        d = BY_CODE[code]
        parent = draw(st.sampled_from([d.parent, None, "630000", "620100"]))
        out[code] = Unit(code, draw(NAMES), d.level, parent, draw(st.booleans()))
    if draw(st.booleans()):
        out["630102-P1"] = Unit("630102-P1", "园区", "park", "630102", draw(st.booleans()))
    return out


@settings(max_examples=300, suppress_health_check=[HealthCheck.too_slow])
@given(
    state=states(),
    file=files(),
    successors=st.dictionaries(*[st.sampled_from(sorted(BY_CODE))] * 2),
)
def test_planning_applying_and_planning_again_gives_nothing(state, file, successors):
    plan = plan_import(state, file, successors)
    after = apply(state, plan)  # also checks parents come first
    assert plan_import(after, file, successors) == []
    kinds = [c.kind for c in plan]
    assert kinds == sorted(kinds, key=lambda k: k == "retired")  # retirements last
    for d in file:
        assert after[d.code] == Unit(d.code, d.name, d.level, d.parent, False)
    provinces = {d.code for d in file if d.level == "province"}
    for code, before in state.items():
        if before.level not in LEVELS or code[:2] + "0000" not in provinces:
            assert after[code] == before  # platform units and other provinces untouched
    for c in plan:
        if c.kind == "retired" and c.successor:
            assert not after[c.successor].retired
