"""The system administrator's rules (on the ``admin`` blueprint): the scoring rule set and
the alliance's rules — the version in force, a new version from a date, published after
its difference with the one in force is shown (``difflib`` on the pretty-printed JSON:
presentation only; the services judge the rules) — and the time limits; the audit
administrator's audit log (the archive's security trail, a page at a time)."""

from __future__ import annotations

import difflib
import json
import re
from datetime import date, datetime, time, timedelta
from typing import Any

from flask import abort, flash, g, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import DateField, IntegerField, SelectField, StringField, TextAreaField
from wtforms.validators import DataRequired, InputRequired, Length, Optional

from services.console.admin import AUD, SYS, UNIT_CODE, bp, fetch, lines, refused_status
from services.console.client import Refused
from services.console.forms import options, show_refusal
from services.console.nav import requires
from shared.timezone import CHINA

# the two kinds of rules: where they are read and published, and how a body is made
KINDS: dict[str, dict[str, Any]] = {
    "scoring": {
        "title": _l("考核评价规则"),
        "path": "/scoring/api/v1/rule-sets/{code}",
        "current": lambda answer: answer["rule_set"],
        "body": lambda rules, day: {"effective_from": day, "rule_set": rules},
    },
    "alliance": {
        "title": _l("服务联盟规则"),
        "path": "/dispatch/api/v1/alliances/{code}/rules",
        "current": lambda answer: answer["rules"],
        "body": lambda rules, day: {**rules, "effective_from": day},
    },
}


def pretty(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, indent=2, sort_keys=True)


def diff(current: Any, proposed: Any) -> list[tuple[str, str]]:
    """The unified diff of the two pretty-printed JSON documents as (kind, line) pairs,
    kind one of ``file``, ``hunk``, ``add``, ``del`` and ``same``."""
    out = []
    for row in difflib.unified_diff(
        pretty(current).splitlines(),
        pretty(proposed).splitlines(),
        fromfile=_("现行版本"),
        tofile=_("新版本"),
        lineterm="",
    ):
        if row.startswith(("+++", "---")):
            kind = "file"
        elif row.startswith("@@"):
            kind = "hunk"
        elif row.startswith("+"):
            kind = "add"
        elif row.startswith("-"):
            kind = "del"
        else:
            kind = "same"
        out.append((kind, row))
    return out


def today() -> date:
    return datetime.now(CHINA).date()


def _code(code: str | None) -> str:
    code = (code or "").strip() or g.person["unit"]
    if not re.match(UNIT_CODE, code):
        abort(400)
    return code


class RulesForm(FlaskForm):
    effective_from = DateField(_l("生效日期"), validators=[DataRequired()])
    rules = TextAreaField(
        _l("规则（JSON）"),
        validators=[DataRequired(), Length(max=200_000)],
        render_kw={"rows": 20, "spellcheck": "false"},
    )


def _kind(kind: str) -> dict[str, Any]:
    if kind not in KINDS:
        abort(404)
    return KINDS[kind]


def _rules_page(
    kind: str, code: str, form: RulesForm | None = None, changes: Any = None, status: int = 200
) -> Any:
    spec = _kind(kind)
    answer = fetch(spec["path"].format(code=code))
    current = spec["current"](answer)
    if form is None:
        form = RulesForm(formdata=None, effective_from=today() + timedelta(days=1))
        form.rules.data = pretty(current)
    page = render_template(
        "admin/rules.html",
        kind=kind,
        kinds=KINDS,
        code=code,
        answer=answer,
        current=pretty(current),
        form=form,
        changes=changes,
    )
    return page, status


@bp.get("/rules", defaults={"kind": "scoring"})
@bp.get("/rules/<kind>")
@requires(*SYS)
def rules(kind: str) -> Any:
    return _rules_page(kind, _code(request.args.get("code")))


def _proposed(form: RulesForm) -> Any:
    """The JSON of the form's textarea (None with a message on the field when it is not
    a JSON object)."""
    try:
        proposed = json.loads(form.rules.data or "")
    except ValueError as exc:
        form.rules.errors = [*form.rules.errors, _("不是有效的 JSON：%(why)s", why=str(exc))]
        return None
    if not isinstance(proposed, dict):
        form.rules.errors = [*form.rules.errors, _("应为一个 JSON 对象。")]
        return None
    return proposed


@bp.post("/rules/<kind>/<code>/preview")
@requires(*SYS)
def preview_rules(kind: str, code: str) -> Any:
    spec = _kind(kind)
    form = RulesForm()
    proposed = _proposed(form) if form.validate_on_submit() else None
    if proposed is None:
        return _rules_page(kind, code, form, status=422)
    current = spec["current"](fetch(spec["path"].format(code=code)))
    return _rules_page(kind, code, form, changes=diff(current, proposed))


@bp.post("/rules/<kind>/<code>/publish")
@requires(*SYS)
def publish_rules(kind: str, code: str) -> Any:
    spec = _kind(kind)
    form = RulesForm()
    proposed = _proposed(form) if form.validate_on_submit() else None
    if proposed is not None:
        day = form.effective_from.data.isoformat()
        try:
            answer = g.api.put(spec["path"].format(code=code), spec["body"](proposed, day))
        except Refused as exc:
            show_refusal(form, exc, {"rule_set": "rules"} if kind == "scoring" else {})
            current = spec["current"](fetch(spec["path"].format(code=code)))
            return _rules_page(kind, code, form, changes=diff(current, proposed), status=422)
        versions = answer.get("versions") or []
        number = max((v.get("version", 0) for v in versions), default=answer.get("version"))
        flash(_("已发布第 %(version)s 版，自 %(day)s 起生效。", version=number, day=day))
        return redirect(url_for("admin.rules", kind=kind, code=code))
    return _rules_page(kind, code, form, status=422)


# --- time limits ------------------------------------------------------------------------------


class TimeLimitsForm(FlaskForm):
    simple = IntegerField(_l("简单需求（工作日）"), validators=[InputRequired()])
    general = IntegerField(_l("一般需求（工作日）"), validators=[InputRequired()])
    complex = IntegerField(_l("复杂需求（工作日）"), validators=[InputRequired()])
    response_hours = IntegerField(_l("首次响应时限（工作小时）"), validators=[Optional()])
    closures = TextAreaField(
        _l("停办日（每行一个日期，如 2026-10-01）"),
        validators=[Optional(), Length(max=20_000)],
        render_kw={"rows": 4},
    )


@bp.route("/time-limits", methods=["GET", "POST"])
@requires(*SYS)
def time_limits() -> Any:
    code = _code(request.args.get("code"))
    current = fetch(f"/intake/api/v1/time-limits/{code}")
    form = TimeLimitsForm()
    if request.method == "GET":
        form.process(data={**current, "closures": "\n".join(current.get("closures") or [])})
    if form.validate_on_submit():
        body: dict[str, Any] = {
            "simple": form.simple.data,
            "general": form.general.data,
            "complex": form.complex.data,
            "closures": lines(form.closures.data),
        }
        if form.response_hours.data:
            body["response_hours"] = form.response_hours.data
        try:
            g.api.put(f"/intake/api/v1/time-limits/{code}", body)
        except Refused as exc:
            show_refusal(form, exc, {"closures.0": "closures"})
        else:
            flash(_("%(code)s 的办结时限已保存。", code=code))
            return redirect(url_for("admin.time_limits", code=code))
    page = render_template("admin/time_limits.html", form=form, current=current, code=code)
    return page, refused_status(form)


# --- the audit log (auditor) ------------------------------------------------------------------


class AuditFilter(FlaskForm):
    class Meta:
        csrf = False  # a search (GET): nothing changes

    start = DateField(_l("起始日期"), name="from", validators=[Optional()])
    end = DateField(_l("截止日期（含）"), name="to", validators=[Optional()])
    type = StringField(_l("事件类型"), validators=[Optional(), Length(max=100)])
    producer = SelectField(
        _l("来源"),
        choices=options(
            [
                ("", _l("全部")),
                ("directory", _l("目录（账号、登录）")),
                ("intake", "intake"),
                ("dispatch", "dispatch"),
                ("visits", "visits"),
                ("scoring", "scoring"),
            ]
        ),
        validators=[Optional()],
    )
    jurisdiction = StringField(_l("单位代码"), validators=[Optional(), Length(max=40)])


@bp.get("/audit")
@requires(*AUD)
def audit() -> Any:
    form = AuditFilter(request.args)
    form.validate()
    start = form.start.data or today() - timedelta(days=30)
    end = form.end.data or today()
    form.start.data, form.end.data = start, end
    params = {
        "from": datetime.combine(start, time(), CHINA).isoformat(),
        "to": datetime.combine(end + timedelta(days=1), time(), CHINA).isoformat(),
        "type": form.type.data or None,
        "producer": form.producer.data or None,
        "jurisdiction": (form.jurisdiction.data or "").strip() or None,
        "cursor": request.args.get("cursor") or None,
        "limit": 50,
    }
    page: dict[str, Any] = {"items": [], "next_cursor": None}
    try:
        page = g.api.get("/archive/api/v1/events", **params)
    except Refused as exc:
        show_refusal(form, exc, {"from": "start", "to": "end"})
    query = {k: v for k, v in request.args.items() if k != "cursor"}
    query.update({"from": start.isoformat(), "to": end.isoformat()})
    html = render_template(
        "admin/audit.html",
        form=form,
        events=page["items"],
        next_cursor=page.get("next_cursor"),
        query=query,
        cursor=params["cursor"],
        pretty=pretty,
    )
    return html, refused_status(form)
