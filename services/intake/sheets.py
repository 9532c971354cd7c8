"""Reading the 科技体检 survey sheet (CSV or XLSX) into enterprise rows.

Headers may be the API's field names or the sheet's Chinese titles; amounts in
万元 columns are converted to CNY. Every data row keeps its sheet row number,
so that every rejected row can be reported by number.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from decimal import Decimal, InvalidOperation
from typing import Any

# sheet title → (field, multiplier for amounts)
HEADERS: dict[str, tuple[str, int]] = {
    "统一社会信用代码": ("credit_code", 1),
    "企业名称": ("name", 1),
    "所属区划代码": ("jurisdiction", 1),
    "行政区划代码": ("jurisdiction", 1),
    "技术领域": ("technology_field", 1),
    "营业收入（元）": ("revenue", 1),
    "营业收入（万元）": ("revenue", 10_000),
    "研发投入（元）": ("rd_spend", 1),
    "研发投入（万元）": ("rd_spend", 10_000),
    "是否有研发活动": ("has_rd_activity", 1),
    "是否有研发机构": ("has_rd_institution", 1),
    "发明专利": ("invention_patents", 1),
    "实用新型专利": ("utility_patents", 1),
    "软件著作权": ("software_copyrights", 1),
    "企业梯次": ("growth_tier", 1),
    "是否重点企业": ("is_key", 1),
}
FIELDS = {f for f, _ in HEADERS.values()}
TIERS = {
    "初创团队": "startup_team",
    "科技型中小企业": "tech_sme",
    "高新技术培育企业": "hitech_candidate",
    "高新技术企业": "hitech_enterprise",
    "科技小巨人": "little_giant",
}
AMOUNTS = {"revenue", "rd_spend"}
COUNTS = {"invention_patents", "utility_patents", "software_copyrights"}
FLAGS = {"has_rd_activity", "has_rd_institution", "is_key"}
TRUE = {"是", "有", "y", "yes", "true", "1"}
FALSE = {"否", "无", "n", "no", "false", "0"}


class SheetError(ValueError):
    """The file itself cannot be read (not a row's problem)."""


def _header(title: Any) -> tuple[str, int] | None:
    text = str(title or "").strip().replace("(", "（").replace(")", "）")
    if text in FIELDS:
        return text, 1
    return HEADERS.get(text)


def _rows(filename: str, data: bytes) -> Iterator[list[Any]]:
    name = filename.lower()
    if name.endswith(".xlsx"):
        from openpyxl import load_workbook

        try:
            book = load_workbook(io.BytesIO(data), read_only=True, data_only=True)
        except Exception as exc:  # openpyxl raises many kinds for a bad file
            raise SheetError(f"not a readable XLSX file: {exc}") from exc
        try:
            for r in book.worksheets[0].iter_rows(values_only=True):
                yield list(r)
        except Exception as exc:  # a damaged sheet fails while it is read
            raise SheetError(f"the XLSX sheet cannot be read: {exc}") from exc
        finally:
            book.close()
    elif name.endswith(".csv"):
        try:
            text = data.decode("utf-8-sig")
        except UnicodeDecodeError:
            try:
                text = data.decode("gb18030")  # sheets saved by Chinese Excel
            except UnicodeDecodeError as exc:
                raise SheetError("the CSV is neither UTF-8 nor GB18030 text") from exc
        try:
            yield from csv.reader(io.StringIO(text))
        except csv.Error as exc:  # e.g. a field beyond the csv module's size limit
            raise SheetError(f"the CSV cannot be read: {exc}") from exc
    else:
        raise SheetError("send a .csv or .xlsx file")


def _number(text: str) -> Decimal | None:
    """A finite number of sane size, or None (the schema then refuses the text)."""
    try:
        number = Decimal(text.replace(",", ""))
    except (InvalidOperation, ArithmeticError):
        return None
    if not number.is_finite() or number.adjusted() > 15:
        return None
    return number


def cell_value(field: str, multiplier: int, value: Any) -> Any:
    """A cell as the value of ``field`` (amounts times ``multiplier``; yes/no as booleans;
    tier titles as codes); what it cannot read is left as text for the schema to refuse."""
    if isinstance(value, str):
        value = value.strip()
    if value is None or value == "":
        return None
    if isinstance(value, str) and "\x00" in value:
        return value  # refused by the import, with the field's name
    if field in AMOUNTS or field in COUNTS:
        number = _number(str(value))
        if number is None:
            return str(value)  # left for the schema to refuse, with the field's name
        number *= multiplier
        return int(number) if number == number.to_integral_value() else str(value)
    if field in FLAGS:
        text = str(value).strip().lower()
        if text in TRUE:
            return True
        if text in FALSE:
            return False
        return text
    if field == "growth_tier":
        return TIERS.get(str(value), str(value))
    return str(value)


def read_sheet(filename: str, data: bytes) -> list[tuple[int, dict[str, Any]]]:
    """(sheet row number, fields) for every non-empty data row."""
    rows = _rows(filename, data)
    try:
        titles = next(rows)
    except StopIteration:
        raise SheetError("the sheet is empty") from None
    columns = [_header(t) for t in titles]
    if not any(c and c[0] == "credit_code" for c in columns):
        raise SheetError("no 统一社会信用代码 / credit_code column in the first row")
    out = []
    for number, row in enumerate(rows, start=2):
        record: dict[str, Any] = {}
        for column, value in zip(columns, row, strict=False):
            if column is None:
                continue
            cell = cell_value(column[0], column[1], value)
            if cell is not None:
                record[column[0]] = cell
        if record:
            out.append((number, record))
    return out
