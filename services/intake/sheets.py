"""Reading the 科技体检 survey sheet (CSV or XLSX) into enterprise rows, or into the
demands it collected (one demand per row; an enterprise may have several rows).

Headers may be the API's field names or the sheet's Chinese titles; amounts in
万元 columns are converted to CNY, Chinese category, source and complexity names to
their codes, dates and times of receipt to instants (China time). Every data row
keeps its sheet row number, so that every rejected row can be reported by number.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Callable, Iterator, Mapping
from datetime import date, datetime, time
from decimal import Decimal, InvalidOperation
from typing import Any

from shared.timezone import CHINA

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


# The demands of the sheet: sheet title → field (the API's names are accepted too)
DEMAND_HEADERS: dict[str, tuple[str, int]] = {
    "统一社会信用代码": ("credit_code", 1),
    "企业名称": ("name", 1),
    "所属区划代码": ("jurisdiction", 1),
    "行政区划代码": ("jurisdiction", 1),
    "需求类别": ("category", 1),
    "需求类型": ("category", 1),
    "服务事项": ("service_item", 1),
    "需求名称": ("title", 1),
    "需求标题": ("title", 1),
    "需求内容": ("description", 1),
    "需求描述": ("description", 1),
    "来源": ("source", 1),
    "需求来源": ("source", 1),
    "复杂程度": ("complexity", 1),
    "联系人": ("contact_name", 1),
    "联系电话": ("contact_phone", 1),
    "电子邮箱": ("contact_email", 1),
    "接收时间": ("received_at", 1),
    "收集时间": ("received_at", 1),
    "填报日期": ("received_at", 1),
    "同意共享": ("consent_to_share", 1),
    "是否同意共享": ("consent_to_share", 1),
}
CATEGORY_NAMES = {
    "技术需求": "technology",
    "人才需求": "talent",
    "资金需求": "funding",
    "融资需求": "funding",
    "成果转化": "achievement_transfer",
    "知识产权": "ip",
    "其他": "other",
}
SOURCE_NAMES = {
    "窗口受理": "window",
    "网上申报": "online",
    "走访收集": "field_visit",
    "科技体检": "field_visit",
    "座谈会": "forum",
    "电话/邮件": "phone_email",
    "电话": "phone_email",
    "场景清单": "scenario_list",
    "企业点单": "order",
}
COMPLEXITY_NAMES = {"简单": "simple", "一般": "general", "复杂": "complex"}
NAMED = {"category": CATEGORY_NAMES, "source": SOURCE_NAMES, "complexity": COMPLEXITY_NAMES}


class SheetError(ValueError):
    """The file itself cannot be read (not a row's problem)."""


def _header(title: Any, headers: Mapping[str, tuple[str, int]]) -> tuple[str, int] | None:
    text = str(title or "").strip().replace("(", "（").replace(")", "）")
    if text in {f for f, _ in headers.values()}:
        return text, 1
    return headers.get(text)


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


def yes_no(value: Any) -> bool | str:
    """是/否 (and yes/no, 1/0, 有/无) as a boolean; other text as it is, for the schema."""
    text = str(value).strip().lower()
    return True if text in TRUE else False if text in FALSE else text


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
        return yes_no(value)
    if field == "growth_tier":
        return TIERS.get(str(value), str(value))
    return str(value)


def received_value(value: Any) -> Any:
    """A time of receipt as an ISO instant: a sheet's date is the start of that day, a
    date and time without a zone are China time; other text is left for the schema."""
    if isinstance(value, datetime):
        at = value if value.tzinfo else value.replace(tzinfo=CHINA)
        return at.isoformat()
    if isinstance(value, date):
        return datetime.combine(value, time(0), CHINA).isoformat()
    text = str(value).strip().replace("/", "-")
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError:
        return text
    if len(text) <= 10:  # a date alone
        return datetime.combine(parsed.date(), time(0), CHINA).isoformat()
    return (parsed if parsed.tzinfo else parsed.replace(tzinfo=CHINA)).isoformat()


def demand_cell_value(field: str, multiplier: int, value: Any) -> Any:
    """A cell as the value of a demand's ``field``: Chinese names as codes, yes/no as
    booleans, receipts as instants; what it cannot read is left as text for the schema."""
    if isinstance(value, str):
        value = value.strip()
    if value is None or value == "":
        return None
    if isinstance(value, str) and "\x00" in value:
        return value
    if field == "received_at":
        return received_value(value)
    if field == "consent_to_share":
        return yes_no(value)
    if field in NAMED:
        return NAMED[field].get(str(value), str(value))
    return str(value)


def read_sheet(
    filename: str,
    data: bytes,
    headers: Mapping[str, tuple[str, int]] = HEADERS,
    cell: Callable[[str, int, Any], Any] = cell_value,
) -> list[tuple[int, dict[str, Any]]]:
    """(sheet row number, fields) for every non-empty data row, the columns named by
    ``headers`` (the enterprise columns by default) read by ``cell``."""
    rows = _rows(filename, data)
    try:
        titles = next(rows)
    except StopIteration:
        raise SheetError("the sheet is empty") from None
    columns = [_header(t, headers) for t in titles]
    if not any(c and c[0] == "credit_code" for c in columns):
        raise SheetError("no 统一社会信用代码 / credit_code column in the first row")
    out = []
    for number, row in enumerate(rows, start=2):
        record: dict[str, Any] = {}
        for column, value in zip(columns, row, strict=False):
            if column is None:
                continue
            value = cell(column[0], column[1], value)
            if value is not None:
                record[column[0]] = value
        if record:
            out.append((number, record))
    return out
