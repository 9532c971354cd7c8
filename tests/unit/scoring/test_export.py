"""A ranking exported in the layout of table A.1."""

from __future__ import annotations

import io

from openpyxl import load_workbook

from services.scoring.domain.evaluation import Inputs, evaluate
from services.scoring.domain.table import DEFAULT_RULE_SET
from services.scoring.export import to_xlsx


def ranking(*cards) -> dict:
    return {"jurisdiction": "630102", "period": "2026-11", "items": list(cards)}


def card(unit_id: str, name: str, unit_type: str, rank: int, inputs: Inputs) -> dict:
    return {
        "unit": {"id": unit_id, "name": name, "type": unit_type},
        "rank": rank,
        "rule_set": {"jurisdiction": "default", "version": 0},
        **evaluate(DEFAULT_RULE_SET, inputs),
    }


def rows(data: bytes) -> list[tuple]:
    ws = load_workbook(io.BytesIO(data)).active
    return [tuple(r) for r in ws.iter_rows(values_only=True)]


def test_one_row_per_unit_one_column_per_item_with_subtotals():
    out = rows(
        to_xlsx(
            ranking(
                card("d-a", "甲部室", "department", 1, Inputs(counts={"visits": 30})),
                card("s-1", "陈静", "staff", 2, Inputs()),
            )
        )
    )
    assert out[0][:3] == ("服务人员考核评价表（表A.1）", "630102", "2026-11")
    assert out[1][:4] == ("排名", "对象", "类型", "品德表现（10分）")
    assert out[2][3:6] == ("廉洁（≤5）", "态度（≤5）", "小计")
    # 3 + (2 + 1) + (2 + 1) + (1 + 1) + (1 + 1) + (2 + 1) + (1 + 1) + 2 columns
    assert len(out[2]) == 3 + 3 + 3 + 2 + 2 + 3 + 2 + 2
    assert out[3][:3] == (1, "甲部室", "部室") and out[3][-2:] == (15, "default v0")
    assert out[4][:3] == (2, "陈静", "人员") and out[4][-2] == 0


def test_an_empty_ranking_has_only_the_headings():
    out = rows(to_xlsx(ranking()))
    assert len(out) == 3
    assert out[1] == ("排名", "对象", "类型", "总分", "规则版本")
