"""The demands of a 科技体检 survey sheet: one per valid row, received when the sheet
says, every invalid row reported by number with its fields, nothing twice on re-import."""

from __future__ import annotations

import io
from datetime import UTC, date, datetime, timedelta

import pytest
from openpyxl import Workbook
from sqlalchemy import select

from services.intake import survey
from services.intake.models import demands
from services.intake.registry import Sheet
from services.intake.sheets import DEMAND_HEADERS, SheetError, demand_cell_value, read_sheet
from services.intake.survey import demand_input, import_demands
from shared.timezone import CHINA
from tests.fakes import actor
from tests.unit.intake.test_registry import credit, enroll

HEAD = (
    "统一社会信用代码,企业名称,需求类别,需求名称,需求内容,"
    "复杂程度,联系人,联系电话,接收时间,同意共享\n"
)


def _day(days_back: int) -> date:
    return datetime.now(CHINA).date() - timedelta(days=days_back)


def sheet_of(*lines: str) -> Sheet:
    return Sheet("体检.csv", (HEAD + "".join(f"{x}\n" for x in lines)).encode())


def test_a_row_reads_as_a_demand_with_its_chinese_names_as_codes():
    sheet = sheet_of(
        f"{credit(1)},甲公司,技术需求,工艺改进,降低能耗,复杂,王工,0971-1234567,2026-11-20,是"
    )
    [(number, record)] = read_sheet(
        sheet.filename, sheet.content, DEMAND_HEADERS, demand_cell_value
    )
    assert number == 2
    assert demand_input(record) == {
        "enterprise": {"credit_code": credit(1), "name": "甲公司"},
        "source": "field_visit",  # 科技体检: collected on a visit unless the sheet says
        "category": "technology",
        "title": "工艺改进",
        "description": "降低能耗",
        "complexity": "complex",
        "contact": {"name": "王工", "phone": "0971-1234567"},
        "received_at": "2026-11-20T00:00:00+08:00",  # a date: from the start of the day
        "consent_to_share": True,
    }
    assert demand_cell_value("received_at", 1, "2026/11/20 14:30") == "2026-11-20T14:30:00+08:00"
    assert demand_cell_value("received_at", 1, datetime(2026, 11, 20, 9)) == (
        "2026-11-20T09:00:00+08:00"
    )
    assert demand_cell_value("category", 1, "未知类") == "未知类"  # refused by the schema


def test_valid_rows_are_accepted_invalid_ones_reported_and_again_changes_nothing(uow):
    enroll(uow, actor("district"), credit(1))
    enroll(uow, actor("district", "630103"), credit(9, "630103"))
    received = _day(3)
    sheet = sheet_of(
        f"{credit(1)},,技术需求,工艺改进,降低能耗,复杂,,,{received},是",
        f"{credit(2)},新企业,资金需求,贷款,流动资金,,,,{received},",
        f"{credit(1)},,人才需求,,缺少工程师,,,,,",  # no title
        f"{credit(9, '630103')},,技术需求,别处,别处的需求,,,,,",  # registered elsewhere
        f"{credit(3)},,技术需求,无名,未登记也无名称,,,,,",  # unknown, no name
        f"{credit(1)},,技术需求,旧,太久以前,,,,{_day(40)},",
        f"{credit(1)},,技术需求,工艺改进,降低能耗,复杂,,,{received},是",  # row 2 again
    )
    report = import_demands(uow, actor("district"), sheet, correlation_id="c-survey")
    assert (report["rows"], report["accepted"], report["unchanged"]) == (7, 2, 0)
    reasons = {r["row"]: r["errors"] for r in report["rejected"]}
    assert set(reasons) == {4, 5, 6, 7, 8}
    assert "title" in reasons[4]
    assert "registered outside your jurisdiction" in str(reasons[5])
    assert "send its name" in str(reasons[6])
    assert "30 days" in str(reasons[7]["received_at"])
    assert reasons[8] == {"title": ["the same demand as row 2"]}
    codes = {d["row"]: d["code"] for d in report["demands"]}
    with uow.read() as s:
        rows = {r.code: r for r in s.execute(select(demands)).all()}
    first = rows[codes[2]]
    assert first.source == "field_visit" and first.complexity == "complex"
    assert first.received_at == datetime.combine(received, datetime.min.time(), CHINA)
    assert first.consent_to_share is True and first.contact_name is None
    assert rows[codes[3]].consent_to_share is False
    accepted = [e for e in uow.committed if e.event_type == "demand.accepted"]
    assert len(accepted) == 2 and accepted[0].payload["received_at"]
    assert "enterprise.registered" in uow.types()  # the new enterprise, by its name

    again = import_demands(uow, actor("district"), sheet, correlation_id="c-survey")
    assert (again["accepted"], again["unchanged"]) == (0, 2)
    assert {d["row"]: d["code"] for d in again["demands"]} == codes
    with uow.read() as s:
        assert len(s.execute(select(demands.c.code)).all()) == 2


def test_a_row_received_another_day_is_another_demand(uow):
    enroll(uow, actor("district"), credit(1))
    one = sheet_of(f"{credit(1)},,技术需求,工艺改进,降低能耗,,,,{_day(3)},")
    other_day = sheet_of(f"{credit(1)},,技术需求,工艺改进,降低能耗,,,,{_day(2)},")
    assert import_demands(uow, actor("district"), one, correlation_id="c")["accepted"] == 1
    assert import_demands(uow, actor("district"), other_day, correlation_id="c")["accepted"] == 1
    # the city above imports the same sheet: filed where the enterprise is, as before
    city = import_demands(uow, actor("district", "630100"), one, correlation_id="c")
    assert (city["accepted"], city["unchanged"], city["rejected"]) == (0, 1, [])


def test_an_unreadable_or_oversized_sheet_is_refused_as_a_whole(uow, monkeypatch):
    with pytest.raises(SheetError):
        import_demands(uow, actor("district"), Sheet("a.txt", b"x"), correlation_id="c")
    with pytest.raises(SheetError):  # no credit code column
        import_demands(
            uow, actor("district"), Sheet("a.csv", "需求名称\n甲\n".encode()), correlation_id="c"
        )
    monkeypatch.setattr(survey, "MAX_ROWS", 1)
    from shared.usecases import Invalid

    two = sheet_of(f"{credit(1)},甲,技术需求,a,b,,,,,", f"{credit(2)},乙,技术需求,a,b,,,,,")
    with pytest.raises(Invalid) as bad:
        import_demands(uow, actor("district"), two, correlation_id="c")
    assert "at most 1" in bad.value.fields["files"]["file"][0]
    with uow.read() as s:
        assert s.execute(select(demands.c.code)).all() == []


def test_an_xlsx_sheet_with_dates_as_cells(uow):
    wb = Workbook()
    ws = wb.active
    ws.append(["统一社会信用代码", "企业名称", "需求类别", "需求名称", "需求内容", "接收时间"])
    ws.append(
        [
            credit(5),
            "戊公司",
            "知识产权",
            "专利布局",
            "申请发明专利",
            datetime.combine(_day(1), datetime.min.time()).replace(hour=15),
        ]
    )
    buf = io.BytesIO()
    wb.save(buf)
    report = import_demands(
        uow, actor("district"), Sheet("体检.xlsx", buf.getvalue()), correlation_id="c"
    )
    assert report["accepted"] == 1, report
    with uow.read() as s:
        row = s.execute(select(demands)).one()
    assert row.category == "ip"
    assert row.received_at == datetime.combine(_day(1), datetime.min.time(), CHINA).replace(
        hour=15
    ).astimezone(UTC)
