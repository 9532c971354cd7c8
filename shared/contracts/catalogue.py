"""The service catalogue: demand categories (XN 需求类型分类) and their service items,
each with the alliance category of agency that serves it (CX 派单规则: 财务, 研发,
专利, 综合) — the link dispatch rotates by.

Part of the contracts because the events speak it: ``demand.accepted`` names a service
item and an agency category by these codes, and intake (which item a demand asks for),
dispatch (which agency category rotates for it) and visits read them alike.
Standard prices belong to each city's standard-contract menu (CX
第十四条), kept by dispatch (``PUT /dispatch/api/v1/alliances/<city>/menu/<item>``); the
seed gives no figures, so the catalogue states none.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class ServiceItem:
    code: str
    category: str
    name: str
    agency_category: str | None  # None: handled by the office itself, no market service
    standard_price: int | None = None  # CNY


CATEGORY_NAMES = {
    "technology": "技术需求",
    "talent": "人才需求",
    "funding": "资金需求",
    "achievement_transfer": "成果转化需求",
    "ip": "知识产权需求",
    "other": "其他需求",
}

ITEMS: tuple[ServiceItem, ...] = (
    ServiceItem("project_application", "technology", "科技项目申报", "general"),
    ServiceItem("technical_breakthrough", "technology", "技术攻关", "rd"),
    ServiceItem("process_improvement", "technology", "工艺改进", "rd"),
    ServiceItem("product_rd", "technology", "新产品研发", "rd"),
    ServiceItem("testing", "technology", "检验检测", "rd"),
    ServiceItem("recruiting", "talent", "人才引进", "general"),
    ServiceItem("training", "talent", "人才培训", "general"),
    ServiceItem("expert_consulting", "talent", "专家咨询", None),
    ServiceItem("finance_matching", "funding", "科技金融对接", "finance"),
    ServiceItem("rd_expense_deduction", "funding", "研发费用加计扣除", "finance"),
    ServiceItem("technology_import", "achievement_transfer", "技术引进", "rd"),
    ServiceItem("commercialisation", "achievement_transfer", "成果转化", "general"),
    ServiceItem("patent_use", "achievement_transfer", "专利运用", "patent"),
    ServiceItem("ip_filing", "ip", "知识产权申请", "patent"),
    ServiceItem("ip_portfolio", "ip", "专利布局", "patent"),
    ServiceItem("ip_protection", "ip", "知识产权保护", "patent"),
    ServiceItem("policy_consulting", "other", "政策咨询", None),
    ServiceItem("other", "other", "其他", None),
)
BY_CODE = {item.code: item for item in ITEMS}


def item_error(category: str, code: str) -> str | None:
    """Why ``code`` is not a service item of ``category``, or None."""
    item = BY_CODE.get(code)
    if item is None:
        return f"unknown service item {code!r}; see GET /intake/api/v1/services"
    if item.category != category:
        return f"{code} belongs to the category {item.category}, not {category}"
    return None
