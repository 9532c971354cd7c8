"""The enterprise registry's use cases on a fake unit of work: register, patch, read,
search, import a survey sheet (rows screened first, purely), and the demo's seed."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from services.intake.models import enterprises
from services.intake.registry import (
    Sheet,
    bare_registration,
    get,
    import_sheet,
    patch,
    register,
    screen_rows,
    search,
    seed_enterprises,
)
from shared.creditcodes import credit_check_char
from shared.errors import status_of
from shared.usecases import Conflict, Forbidden, NotFound
from tests.fakes import FakeDirectory, actor


def credit(n: int, district: str = "630102") -> str:
    body = f"91{district}{n:09d}"
    return body + credit_check_char(body)


BIG = {
    "name": "青海盐湖锂业科技有限公司",
    "revenue": 620_000_000,
    "has_rd_activity": False,
    "has_rd_institution": False,
    "growth_tier": "hitech_candidate",
}


def enroll(uow, who, code, **more):
    return register(uow, who, {"credit_code": code, **BIG, **more}, correlation_id="c")


def test_a_registration_computes_the_flags_and_is_announced(uow):
    out = enroll(uow, actor("staff", "630100"), credit(1))
    assert out["jurisdiction"] == "630100"
    assert out["needs_named_person"] is True and out["needs_one_plan"] is True
    [registered] = uow.committed
    assert registered.event_type == "enterprise.registered" and registered.correlation_id == "c"
    assert registered.payload["revenue"] == 620_000_000
    with pytest.raises(Conflict) as again:
        enroll(uow, actor("staff", "630100"), credit(1))
    assert status_of(again.value) == 409 and again.value.code == "conflict"
    assert "PATCH it to change its profile" in again.value.message


def test_a_patch_changes_the_fields_sent_and_announces_only_a_change(uow):
    code = credit(2)
    enroll(uow, actor("district"), code)
    out = patch(uow, actor("district"), code, {"has_rd_activity": True}, correlation_id="c")
    assert out["needs_named_person"] is False and out["needs_one_plan"] is True
    assert out["growth_tier"] == "hitech_candidate" and out["updated_at"] is not None
    assert uow.types() == ["enterprise.registered", "enterprise.updated"]
    patch(uow, actor("district"), code, {"has_rd_activity": True}, correlation_id="c")
    assert uow.types() == ["enterprise.registered", "enterprise.updated"]  # unchanged


def test_an_enterprise_elsewhere_is_forbidden_and_an_unknown_one_not_found(uow):
    code = credit(3, "630103")
    enroll(uow, actor("district", "630103"), code)
    with pytest.raises(Forbidden, match="registered in 630103, outside your jurisdiction"):
        get(uow, actor("district"), code)
    with pytest.raises(Forbidden):
        patch(uow, actor("district"), code, {"is_key": True}, correlation_id="c")
    with pytest.raises(NotFound) as unknown:
        get(uow, actor("district"), credit(4))
    assert unknown.value.message == f"No enterprise {credit(4)} is registered."


def test_search_filters_and_pages_by_credit_code(uow):
    for n in range(5):
        enroll(uow, actor("district"), credit(n), name=f"企业{n}", is_key=n < 2)
    page = search(uow, actor("district"), {"limit": 3})
    assert [e["credit_code"] for e in page["items"]] == [credit(n) for n in range(3)]
    rest = search(uow, actor("district"), {"limit": 3, "cursor": page["next_cursor"]})
    assert len(rest["items"]) == 2 and rest["next_cursor"] is None
    assert len(search(uow, actor("district"), {"limit": 9, "is_key": True})["items"]) == 2
    assert (
        search(uow, actor("district"), {"limit": 9, "name": "企业4"})["items"][0]["name"] == "企业4"
    )
    with pytest.raises(Forbidden):
        search(uow, actor("district"), {"limit": 9, "jurisdiction": "630103"})


def test_rows_are_screened_before_anything_is_written():
    report = {"rows": 0, "rejected": []}
    records = [
        (2, {"credit_code": credit(1), "name": "甲"}),
        (3, {"credit_code": credit(1), "name": "甲again"}),
        (4, {"credit_code": credit(2), "name": "乙", "jurisdiction": "630200"}),
        (5, {"credit_code": credit(3), "name": "丙", "jurisdiction": "630199"}),
        (6, {"credit_code": "nope", "name": "丁"}),
        (7, {"credit_code": credit(4), "name": "戊\x00"}),
    ]
    valid = screen_rows(records, actor("district", "630100"), FakeDirectory(), report)
    assert [(n, row["jurisdiction"]) for n, row in valid] == [(2, "630100")]
    assert report["rows"] == 6
    reasons = {r["row"]: r["errors"] for r in report["rejected"]}
    assert reasons[3] == {"credit_code": ["repeats row 2"]}
    assert reasons[4] == {"jurisdiction": ["outside your jurisdiction"]}
    assert reasons[5] == {"jurisdiction": ["not a known division"]}
    assert "credit_code" in reasons[6]
    assert reasons[7] == {"name": ["contains a NUL character"]}


def test_a_sheet_registers_updates_and_reports_and_again_changes_nothing(uow):
    enroll(uow, actor("district"), credit(1))
    enroll(uow, actor("district", "630103"), credit(9))
    csv = (
        "credit_code,name,revenue,jurisdiction\n"
        f"{credit(1)},青海盐湖锂业科技有限公司,1000,\n"
        f"{credit(2)},新企业,,\n"
        f"{credit(9)},别处的,,630102\n"
    ).encode()
    sheet = Sheet("survey.csv", csv)
    report = import_sheet(uow, actor("district"), sheet, correlation_id="c-import")
    assert (report["rows"], report["registered"], report["updated"]) == (3, 1, 1)
    assert report["rejected"] == [
        {
            "row": 4,
            "credit_code": credit(9),
            "errors": {"jurisdiction": ["registered in 630103, not 630102"]},
        }
    ]
    again = import_sheet(uow, actor("district"), sheet, correlation_id="c-import")
    assert (again["registered"], again["updated"], again["unchanged"]) == (0, 0, 2)


def test_the_seed_registers_only_the_unknown_by_name(uow):
    rows = [(credit(1), "甲", "630102"), (credit(2), "乙", "630103")]
    assert seed_enterprises(uow, rows) == 2
    assert seed_enterprises(uow, rows) == 0
    assert [e.payload for e in uow.committed] == [bare_registration(*r) for r in rows]
    assert bare_registration(*rows[0]) == {
        "credit_code": credit(1),
        "name": "甲",
        "jurisdiction": "630102",
        "is_key": False,
        "needs_named_person": False,
        "needs_one_plan": False,
    }
    with uow.read() as s:
        assert len(s.execute(select(enterprises)).all()) == 2
