"""The demand ledger (需求台账): the demands a listing selects, as an XLSX workbook headed in
Chinese. The rows are read in keyset batches and written one by one (openpyxl's write-only
mode): they are never all in memory, only the finished (compressed) file is.

Without the enterprise's consent a ledger row carries no title, description or contact (XN
保密: a ledger is an export; the office reads the demand itself in the API).
"""

from __future__ import annotations

import io
from collections.abc import Callable, Iterable, Iterator
from datetime import datetime
from typing import Any

from shared.sheets import row as sheet_row
from shared.timezone import CHINA

LIMIT = 100_000  # demands in one ledger; more is refused with a request to narrow the filters
WITHHELD = "（未经企业同意，不予导出）"

STATUS = {
    "accepted": "已受理",
    "in_progress": "办理中",
    "feedback": "已反馈",
    "follow_up": "跟踪中",
    "closed": "已办结",
    "rejected": "不予受理",
}
CATEGORY = {
    "technology": "技术需求",
    "talent": "人才需求",
    "funding": "资金需求",
    "achievement_transfer": "成果转化",
    "ip": "知识产权",
    "other": "其他",
}
SOURCE = {
    "window": "窗口受理",
    "online": "网上申报",
    "field_visit": "走访收集",
    "forum": "座谈会",
    "phone_email": "电话/邮件",
    "scenario_list": "场景清单",
    "order": "企业点单",
}
COMPLEXITY = {"simple": "简单", "general": "一般", "complex": "复杂"}
RESOLUTION = {"solved": "已解决", "unsolvable": "无法解决"}


def when(value: datetime | None) -> str | None:
    return value.astimezone(CHINA).strftime("%Y-%m-%d %H:%M") if value else None


def _shared(field: str) -> Callable[[Any], Any]:
    return lambda r: getattr(r, field) if r.consent_to_share else WITHHELD


def _contact(r: Any) -> Any:
    if not r.consent_to_share:
        return WITHHELD
    return " ".join(x for x in (r.contact_name, r.contact_phone) if x) or None


COLUMNS: tuple[tuple[str, Callable[[Any], Any]], ...] = (
    ("需求编码", lambda r: r.code),
    ("受理时间", lambda r: when(r.accepted_at)),
    ("辖区", lambda r: r.jurisdiction),
    ("企业名称", lambda r: r.enterprise_name),
    ("统一社会信用代码", lambda r: r.enterprise_credit_code),
    ("需求类别", lambda r: CATEGORY.get(r.category, r.category)),
    ("服务事项", lambda r: r.service_item),
    ("来源", lambda r: SOURCE.get(r.source, r.source)),
    ("需求标题", _shared("title")),
    ("需求内容", _shared("description")),
    ("联系人", _contact),
    ("复杂程度", lambda r: COMPLEXITY.get(r.complexity or "", r.complexity)),
    ("责任单位", lambda r: r.owner_name),
    ("办理状态", lambda r: STATUS.get(r.status, r.status)),
    ("承诺办结时间", lambda r: when(r.expected_at)),
    ("办结时间", lambda r: when(r.closed_at)),
    ("办结结果", lambda r: RESOLUTION.get(r.resolution or "", r.resolution)),
    ("满意度", lambda r: r.satisfaction_rating),
    ("同意共享", lambda r: "是" if r.consent_to_share else "否"),
)


def lines(rows: Iterable[Any]) -> Iterator[list[Any]]:
    """The ledger's lines: its headings, then a line per demand row (``demand_rows``)."""
    yield [name for name, _ in COLUMNS]
    for r in rows:
        yield sheet_row([get(r) for _, get in COLUMNS])


def workbook(rows: Iterable[Any], title: str = "需求台账") -> bytes:
    """The ledger as an XLSX workbook (one sheet, written row by row)."""
    from openpyxl import Workbook

    wb = Workbook(write_only=True)
    ws = wb.create_sheet(title[:31])
    for line in lines(rows):
        ws.append(line)
    buf = io.BytesIO()
    wb.save(buf)
    return buf.getvalue()
