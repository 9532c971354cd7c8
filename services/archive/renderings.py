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


def cell(value: Any) -> Any:
    """A value as a table cell: lists and objects as JSON."""
    return json.dumps(value, ensure_ascii=False) if isinstance(value, list | dict) else value


def listing(name: str, items: list[dict[str, Any]]) -> Table:
    """A list of records as a table, its columns those of the first record."""
    cols = list(items[0])
    return (name, cols, [[cell(i.get(c)) for c in cols] for i in items])


def is_counts(value: dict[str, Any]) -> bool:
    """A dict of plain values (a count by category), not of lists or dicts."""
    return all(not isinstance(x, dict | list) for x in value.values())


def tables_of(key: str, value: Any) -> list[Table]:
    """The tables one entry of a report makes: counts, a listing, or a listing per part."""
    if isinstance(value, dict) and is_counts(value):
        return [(key, ["分类", "数量"], [[a, b] for a, b in value.items()])]
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
    """The report as named tables (for XLSX and HTML): a summary of its plain values
    first, then one table per count or listing."""
    scalars = [[k, v] for k, v in report.items() if not isinstance(v, dict | list)]
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
