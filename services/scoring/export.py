"""Scorecards exported in the layout of table A.1 (a spreadsheet with Chinese headings)."""

from __future__ import annotations

import io
from typing import Any

from shared.sheets import row as sheet_row


def to_xlsx(ranking: dict[str, Any]) -> bytes:
    """Scorecards in the layout of table A.1 (one row per unit, one column per item)."""
    from openpyxl import Workbook

    wb = Workbook()
    ws = wb.active
    ws.title = "考核评价表"
    ws.append(["服务人员考核评价表（表A.1）", ranking["jurisdiction"], ranking["period"]])
    cards = ranking["items"]
    parts = cards[0]["parts"] if cards else []
    header1 = ["排名", "对象", "类型"]
    header2 = ["", "", ""]
    for p in parts:
        for i, item in enumerate(p["items"]):
            header1.append(f"{p['title']}（{p['points']}分）" if i == 0 else "")
            header2.append(f"{item['title']}（≤{item['cap']}）")
        header1.append("")
        header2.append("小计")
    header1 += ["总分", "规则版本"]
    header2 += ["", ""]
    ws.append(sheet_row(header1))
    ws.append(sheet_row(header2))
    for c in cards:
        row: list[Any] = [
            c["rank"],
            c["unit"]["name"],
            "部室" if c["unit"]["type"] == "department" else "人员",
        ]
        for p in c["parts"]:
            row += [i["points"] for i in p["items"]] + [p["subtotal"]]
        row += [c["total"], f"{c['rule_set']['jurisdiction']} v{c['rule_set']['version']}"]
        ws.append(sheet_row(row))
    buf = io.BytesIO()
    wb.save(buf)
    return buf.getvalue()
