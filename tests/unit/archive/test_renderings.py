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


def test_a_report_is_a_summary_then_a_table_per_count_or_listing():
    assert tables(REPORT) == [
        (
            "概要",
            ["项目", "数值"],
            [
                ["title", "服务档案"],
                ["jurisdiction", "630102"],
                ["period", "2026-11"],
                ["from", date(2026, 11, 1)],
                ["closure_rate", None],
            ],
        ),
        ("by_category", ["分类", "数量"], [["technology", 2], ["ip", 1]]),
        ("empty_counts", ["分类", "数量"], []),
        ("contact_list.departments", ["id", "name"], [["d1", "<b>科技局</b>"]]),
        # columns are the first record's; lists and objects as JSON
        ("service_ledger", ["visit_id", "enterprises"], [["v1", '["甲", "乙"]'], ["v2", None]]),
    ]


def test_a_cell_holds_lists_and_objects_as_json():
    assert cell({"a": "城"}) == '{"a": "城"}' and cell(3) == 3 and cell(None) is None


def test_the_workbook_has_a_sheet_per_table_with_dates_as_text():
    wb = load_workbook(io.BytesIO(to_xlsx({**REPORT, "contact_list": {"a/b": [{"x": 1}]}})))
    assert wb.sheetnames == [
        "概要",
        "by_category",
        "empty_counts",
        "contact_list.a_b",
        "service_ledger",
    ]
    summary = [list(r) for r in wb["概要"].iter_rows(values_only=True)]
    assert summary[0] == ["项目", "数值"] and ["from", "2026-11-01"] in summary


def test_the_page_is_escaped_and_has_no_script():
    page = to_html(REPORT)
    assert page.startswith("<!doctype html>") and "<script" not in page
    assert "<h1>服务档案 — 630102 2026-11</h1>" in page
    assert "&lt;b&gt;科技局&lt;/b&gt;" in page and "<b>" not in page
    assert "<td>closure_rate</td><td></td>" in page  # None as an empty cell
