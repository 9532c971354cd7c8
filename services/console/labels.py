"""How the platform's codes read on a page (translated: Chinese is the source language),
and dates shown in China time."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from flask_babel import lazy_gettext as _l

from shared.timezone import CHINA

LABELS: dict[str, dict[str, Any]] = {
    "status": {
        "accepted": _l("已受理"),
        "in_progress": _l("办理中"),
        "feedback": _l("已反馈"),
        "follow_up": _l("跟踪中"),
        "closed": _l("已办结"),
        "rejected": _l("不予受理"),
    },
    "category": {
        "technology": _l("技术需求"),
        "talent": _l("人才需求"),
        "funding": _l("资金需求"),
        "achievement_transfer": _l("成果转化"),
        "ip": _l("知识产权"),
        "other": _l("其他需求"),
    },
    "source": {
        "window": _l("窗口受理"),
        "online": _l("线上提交"),
        "field_visit": _l("走访收集"),
        "forum": _l("座谈会"),
        "phone_email": _l("电话邮件"),
        "scenario_list": _l("场景清单"),
        "order": _l("企业点单"),
    },
    "complexity": {"simple": _l("简单"), "general": _l("一般"), "complex": _l("复杂")},
    "resolution": {"solved": _l("已解决"), "unsolvable": _l("无法解决")},
    "order": {
        "open": _l("办理中"),
        "done": _l("已结束"),
        "dispatched": _l("已派单"),
        "acknowledged": _l("已确认"),
        "in_progress": _l("服务中"),
        "completed": _l("已完成"),
        "refused": _l("已拒单"),
        "withdrawn": _l("已撤回"),
        "reassigned": _l("已调单"),
    },
}


def register(kind: str, mapping: dict[str, Any]) -> None:
    """More labels (a page module's own codes), added at import."""
    LABELS.setdefault(kind, {}).update(mapping)


def label(value: Any, kind: str) -> Any:
    """``value`` as people read it (the code itself when it has no label)."""
    if value is None:
        return ""
    return LABELS.get(kind, {}).get(value, value)


def china_time(value: Any, fmt: str = "%Y-%m-%d %H:%M") -> str:
    """An ISO 8601 instant (or a datetime) in China time."""
    if not value:
        return ""
    at = value if isinstance(value, datetime) else datetime.fromisoformat(str(value))
    return at.astimezone(CHINA).strftime(fmt)


def choices(kind: str) -> list[tuple[str, Any]]:
    return list(LABELS[kind].items())
