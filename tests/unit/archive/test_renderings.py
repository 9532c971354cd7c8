"""A report as tables, XLSX and a printable page."""

import io
from datetime import date

from openpyxl import load_workbook

from services.archive.renderings import cell, tables, to_html, to_xlsx

REPORT = {
    "title": "服务档案",
    "jurisdiction": "630102",
    "period": "2026-11",
    "from": date(2026, 11, 1),
    "closure_rate": None,
    "by_category": {"technology": 2, "ip": 1},
    "empty_counts": {},
    "contact_list": {
        "departments": [{"id": "d1", "name": "<b>科技局</b>"}],
        "staff": [],
        "note": "not a listing",
    },
    "service_ledger": [
        {"visit_id": "v1", "enterprises": ["甲", "乙"]},
        {"visit_id": "v2", "extra": 1},
    ],
    "overdue": [],
}


def test_a_report_is_a_summary_then_a_table_per_count_or_listing_headed_in_chinese():
    assert tables(REPORT) == [
        (
            "概要",
            ["项目", "数值"],
            [
                ["标题", "服务档案"],
                ["辖区", "630102"],
                ["期间", "2026-11"],
                ["起始日期", date(2026, 11, 1)],
                ["办结率", None],
            ],
        ),
        ("按需求类别", ["分类", "数量"], [["technology", 2], ["ip", 1]]),
        ("empty_counts", ["分类", "数量"], []),  # a key without a heading shows as it is
        ("联络名单·部门", ["编号", "名称"], [["d1", "<b>科技局</b>"]]),
        # columns are the first record's; lists and objects as JSON
        ("服务台账", ["走访编号", "服务企业"], [["v1", '["甲", "乙"]'], ["v2", None]]),
    ]


def test_a_cell_holds_lists_and_objects_as_json():
    assert cell({"a": "城"}) == '{"a": "城"}' and cell(3) == 3 and cell(None) is None


def test_the_workbook_has_a_sheet_per_table_with_dates_as_text():
    wb = load_workbook(io.BytesIO(to_xlsx({**REPORT, "contact_list": {"a/b": [{"x": 1}]}})))
    assert wb.sheetnames == ["概要", "按需求类别", "empty_counts", "联络名单·a_b", "服务台账"]
    summary = [list(r) for r in wb["概要"].iter_rows(values_only=True)]
    assert summary[0] == ["项目", "数值"] and ["起始日期", "2026-11-01"] in summary


def test_the_page_is_escaped_and_has_no_script():
    page = to_html(REPORT)
    assert page.startswith("<!doctype html>") and "<script" not in page
    assert "<h1>服务档案 — 630102 2026-11</h1>" in page
    assert "&lt;b&gt;科技局&lt;/b&gt;" in page and "<b>" not in page
    assert "<td>办结率</td><td></td>" in page  # None as an empty cell
