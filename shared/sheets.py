"""Writing user text into spreadsheets safely."""

from __future__ import annotations

from typing import Any

from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE

FORMULA_START = ("=", "+", "-", "@")


def cell(value: Any) -> Any:
    """A value as a plain cell: control characters a workbook cannot hold are dropped,
    and text that a spreadsheet would run as a formula is kept as text (CSV/formula
    injection: a leading apostrophe)."""
    if not isinstance(value, str):
        return value
    value = ILLEGAL_CHARACTERS_RE.sub("", value)
    return "'" + value if value.startswith(FORMULA_START) else value


def row(values: list[Any]) -> list[Any]:
    return [cell(v) for v in values]
