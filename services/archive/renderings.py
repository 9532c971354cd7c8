"""A report as named tables, written as an XLSX workbook or a printable HTML page."""

from __future__ import annotations

import io
import json
import re
from datetime import date, datetime
from html import escape
from typing import Any

from shared.sheets import row as sheet_row
from shared.timezone import china_today

Table = tuple[str, list[str], list[list[Any]]]  # name, column headings, rows

# The headings an office reads: each report key and record field in Chinese (the JSON
# keeps the field names); a key not listed here is shown as it is.
LABELS = {
    "title": "标题",
    "jurisdiction": "辖区",
    "period": "期间",
    "from": "起始日期",
    "to": "截止日期",
    "generated_at": "生成时间",
    "now": "统计时间",
    "demands": "需求数",
    "demands_accepted": "受理需求数",
    "accepted": "受理",
    "rejected": "不予受理",
    "closed": "已办结",
    "overdue": "超期需求",
    "closure_rate": "办结率",
    "on_time_rate": "按时办结率",
    "satisfaction": "满意度",
    "visits": "服务进企次数",
    "events": "事件数",
    "transitions": "状态变更",
    "assignments": "派单",
    "by_category": "按需求类别",
    "by_jurisdiction": "按辖区",
    "by_service_item": "按服务事项",
    "by_source": "按需求来源",
    "by_status": "按办理状态",
    "recurring_themes": "高频需求主题",
    "term": "主题词",
    "week": "周",
    "month": "月份",
    "count": "数量",
    "contact_list": "联络名单",
    "departments": "部门",
    "staff": "工作人员",
    "enterprise_owners": "企业包保责任人",
    "demand_list": "需求清单",
    "service_ledger": "服务台账",
    "assessment_records": "考核记录",
    "id": "编号",
    "name": "名称",
    "leader": "负责人",
    "leader_staff_id": "负责人编号",
    "department": "所属部门",
    "department_id": "部门编号",
    "department_name": "部门名称",
    "staff_id": "工作人员编号",
    "staff_name": "工作人员",
    "enterprise": "企业",
    "enterprises": "服务企业",
    "enterprise_credit_code": "统一社会信用代码",
    "credit_code": "统一社会信用代码",
    "owner": "责任人",
    "owner_id": "责任人编号",
    "assignee_id": "承办方编号",
    "assignee_name": "承办方",
    "code": "需求编码",
    "demand_code": "需求编码",
    "category": "需求类别",
    "source": "来源",
    "status": "办理状态",
    "service_item": "服务事项",
    "accepted_at": "受理时间",
    "expected_at": "承诺办结时间",
    "visit_id": "走访编号",
    "visited_on": "走访日期",
    "version": "版本",
    "kind": "类型",
    "unit_id": "考核对象编号",
    "value": "分值",
    "evidence": "佐证材料",
    "at": "时间",
    "occurred_at": "发生时间",
    "event_type": "事件类型",
    "rating": "评分",
    "on_time": "是否按时",
    "phone": "联系电话",
    "service_hours": "服务时间",
}


def label(key: str) -> str:
    """A report key or record field as its Chinese heading (a dotted key part by part)."""
    return "·".join(LABELS.get(part, part) for part in key.split("."))


def cell(value: Any) -> Any:
    """A value as a table cell: lists and objects as JSON."""
    return json.dumps(value, ensure_ascii=False) if isinstance(value, list | dict) else value


def listing(name: str, items: list[dict[str, Any]]) -> Table:
    """A list of records as a table, its columns those of the first record (headed in
    Chinese)."""
    cols = list(items[0])
    return (label(name), [label(c) for c in cols], [[cell(i.get(c)) for c in cols] for i in items])


def is_counts(value: dict[str, Any]) -> bool:
    """A dict of plain values (a count by category), not of lists or dicts."""
    return all(not isinstance(x, dict | list) for x in value.values())


def tables_of(key: str, value: Any) -> list[Table]:
    """The tables one entry of a report makes: counts, a listing, or a listing per part."""
    if isinstance(value, dict) and is_counts(value):
        return [(label(key), ["分类", "数量"], [[a, b] for a, b in value.items()])]
    if isinstance(value, dict):
        return [
            listing(f"{key}.{sub}", items)
            for sub, items in value.items()
            if isinstance(items, list) and items
        ]
    if isinstance(value, list) and value and isinstance(value[0], dict):
        return [listing(key, value)]
    return []


def tables(report: dict[str, Any]) -> list[Table]:
    """The report as named tables (for XLSX and HTML), headed in Chinese (``LABELS``): a
    summary of its plain values first, then one table per count or listing."""
    scalars = [[label(k), v] for k, v in report.items() if not isinstance(v, dict | list)]
    out: list[Table] = [("概要", ["项目", "数值"], scalars)]
    for k, v in report.items():
        out += tables_of(k, v)
    return out


def to_xlsx(report: dict[str, Any]) -> bytes:
    from openpyxl import Workbook

    wb = Workbook()
    wb.remove(wb.active)
    for name, cols, rows in tables(report):
        ws = wb.create_sheet(re.sub(r"[\[\]:*?/\\]", "_", name)[:31])
        ws.append(sheet_row(cols))
        for r in rows:
            ws.append(sheet_row([str(x) if isinstance(x, date | datetime) else x for x in r]))
    buf = io.BytesIO()
    wb.save(buf)
    return buf.getvalue()


def to_html(report: dict[str, Any]) -> str:
    """A printable page (no scripts, no external resources)."""
    parts = [
        "<!doctype html><html lang='zh-CN'><head><meta charset='utf-8'>",
        f"<title>{escape(str(report['title']))}</title>",
        "<style>body{font-family:sans-serif;margin:2em}table{border-collapse:collapse;"
        "margin:1em 0}td,th{border:1px solid #999;padding:4px 8px;font-size:13px}"
        "@media print{h2{page-break-before:auto}}</style></head><body>",
        f"<h1>{escape(str(report['title']))} — {escape(str(report['jurisdiction']))} "
        f"{escape(str(report['period']))}</h1>",
    ]
    for name, cols, rows in tables(report):
        parts.append(f"<h2>{escape(name)}</h2><table><tr>")
        parts += [f"<th>{escape(str(c))}</th>" for c in cols]
        parts.append("</tr>")
        for r in rows:
            parts.append(
                "<tr>"
                + "".join(f"<td>{escape('' if x is None else str(x))}</td>" for x in r)
                + "</tr>"
            )
        parts.append("</table>")
    parts.append(f"<p>生成于 {escape(china_today().isoformat())}</p></body></html>")
    return "".join(parts)
