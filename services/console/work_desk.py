"""The workbench's other pages (blueprint ``work``): log a visit with the demands raised on
it and my visits (visits service), my visit plans, my service ledger with its XLSX download,
and my scorecard point by point with the records behind each item (scoring service).

"My" is the person's staff id (the directory binds it); a person without one (a
commissioner) sees the subtree's visits and plans and has no ledger or scorecard of their
own. The services decide what each person may read or do.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Any

from flask import abort, flash, g, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import (
    DateField,
    FieldList,
    Form,
    FormField,
    IntegerField,
    SelectField,
    SelectMultipleField,
    StringField,
    TextAreaField,
)
from wtforms.validators import DataRequired, Length, NumberRange, Optional

from services.console.client import Refused
from services.console.downloads import passthrough
from services.console.forms import options, show_refusal
from services.console.labels import choices, register
from services.console.nav import OFFICE, link, requires
from services.console.work import bp
from shared.timezone import CHINA

link("work.visits", _l("我的走访"), OFFICE)
link("work.plans", _l("走访计划"), OFFICE)
link("work.ledger", _l("服务台账"), OFFICE)
link("work.scorecard", _l("我的考核"), OFFICE)

register(
    "work_visit_kind",
    {
        "policy_briefing": _l("政策宣讲"),
        "demand_survey": _l("需求摸排"),
        "problem_solving": _l("问题解决"),
        "resource_matching": _l("资源对接"),
        "follow_up": _l("跟踪回访"),
    },
)
register(
    "work_plan_status",
    {
        "planned": _l("计划中"),
        "done": _l("已完成"),
        "missed": _l("未完成"),
        "cancelled": _l("已取消"),
    },
)
PERIOD = re.compile(r"^\d{4}(-(\d{2}|Q[1-4]|W\d{2}|\d{2}-\d{2}))?$")
MAX_RAISED = 5


def _staff_id() -> str | None:
    return (g.person or {}).get("staff_id")


def _period(default_fmt: str = "%Y-%m") -> str:
    """The period asked for (a day, an ISO week, a month, a quarter or a year), else this
    month in China time; the service checks it."""
    given = (request.args.get("period") or "").strip()
    if given and PERIOD.match(given):
        return given
    return datetime.now(UTC).astimezone(CHINA).strftime(default_fmt)


def _enterprises() -> list[tuple[str, str]]:
    """The enterprises of my subtree as (credit code, name) options."""
    page = g.api.get("/intake/api/v1/enterprises", limit=500)
    return [(e["credit_code"], f"{e['name']} {e['credit_code']}") for e in page["items"]]


def _codes(text: str | None) -> list[str]:
    return [c for c in re.split(r"[\s,，;；]+", text or "") if c]


# --- visits --------------------------------------------------------------------------------


class RaisedDemandForm(Form):
    credit_code = SelectField(_l("提出需求的企业"), validators=[Optional()])
    category = SelectField(_l("需求类别"), validators=[Optional()])
    title = StringField(_l("需求名称"), validators=[Optional(), Length(max=200)])
    description = TextAreaField(
        _l("需求内容"), validators=[Optional(), Length(max=4000)], render_kw={"rows": 2}
    )


class VisitForm(FlaskForm):
    enterprises = SelectMultipleField(
        _l("走访企业"), validators=[DataRequired()], render_kw={"size": 4}
    )
    kind = SelectField(_l("走访类型"), validators=[DataRequired()])
    visited_on = DateField(_l("走访日期"), validators=[DataRequired()])
    duration_minutes = IntegerField(
        _l("时长（分钟）"), validators=[Optional(), NumberRange(min=1, max=1440)]
    )
    participants = StringField(_l("参加人员（逗号分隔）"), validators=[Optional()])
    findings = TextAreaField(
        _l("了解情况"), validators=[Optional(), Length(max=4000)], render_kw={"rows": 3}
    )
    outcomes = TextAreaField(
        _l("服务成效"), validators=[Optional(), Length(max=4000)], render_kw={"rows": 3}
    )
    follow_up_of = StringField(_l("跟踪的需求编号（可多个）"), validators=[Optional()])
    demands = FieldList(FormField(RaisedDemandForm), min_entries=1, max_entries=MAX_RAISED)


def _visit_form(enterprises: list[tuple[str, str]]) -> VisitForm:
    form = VisitForm()
    form.enterprises.choices = options(enterprises)
    form.kind.choices = options(choices("work_visit_kind"))
    for entry in form.demands.entries:
        entry.form.credit_code.choices = options([("", _("（同走访企业）")), *enterprises])
        entry.form.category.choices = options(choices("category"))
    return form


def _raised(form: VisitForm) -> list[dict[str, Any]]:
    """The demands raised on the visit: the rows with a title or a description."""
    out = []
    for entry in form.demands.entries:
        sub = entry.form
        if not (sub.title.data or sub.description.data):
            continue
        out.append(
            {
                "credit_code": sub.credit_code.data or (form.enterprises.data or [""])[0],
                "category": sub.category.data,
                "title": sub.title.data or "",
                "description": sub.description.data or "",
            }
        )
    return out


def _place_visit_refusal(form: VisitForm, refused: Refused) -> None:
    """The nested messages (``demands_raised.0.title``) on the raised demand's row; the rest
    as ``show_refusal`` places them."""
    rest: dict[str, Any] = {}
    rows = [e for e in form.demands.entries if e.form.title.data or e.form.description.data]
    for where, messages in refused.field_messages().items():
        parts = where.split(".")
        if parts[0] == "demands_raised" and len(parts) >= 3 and parts[1].isdigit():
            i = int(parts[1])
            target = getattr(rows[i].form, parts[2], None) if i < len(rows) else None
            if target is not None:
                target.errors = [*list(target.errors or []), *messages]
                continue
        key = parts[0] if parts[0] in ("enterprises", "participants", "follow_up_of") else where
        rest.setdefault(key, []).extend(messages)
    leftover = Refused(refused.status, refused.message, refused.code, rest)
    if rest or not any(e.form.errors for e in form.demands.entries):
        show_refusal(form, leftover)


@bp.get("/visits")
@requires(*OFFICE)
def visits() -> Any:
    page = g.api.get(
        "/visits/api/v1/visits",
        staff_id=_staff_id(),
        period=request.args.get("period") or None,
        limit=100,
    )
    return render_template("work/visits.html", visits=page["items"])


@bp.route("/visits/new", methods=["GET", "POST"])
@requires(*OFFICE)
def new_visit() -> Any:
    enterprises = _enterprises()
    form = _visit_form(enterprises)
    if request.method == "GET":
        form.visited_on.data = datetime.now(UTC).astimezone(CHINA).date()
    if request.method == "POST" and request.form.get("more"):
        # one more row for a raised demand (no script needed); nothing is sent yet
        if len(form.demands.entries) < MAX_RAISED:
            form.demands.append_entry()
            sub = form.demands.entries[-1].form
            sub.credit_code.choices = options([("", _("（同走访企业）")), *enterprises])
            sub.category.choices = options(choices("category"))
        return render_template("work/visit_new.html", form=form)
    if form.validate_on_submit():
        body: dict[str, Any] = {
            "enterprises": form.enterprises.data,
            "kind": form.kind.data,
            "visited_on": form.visited_on.data.isoformat(),
        }
        if _staff_id():
            body["staff_id"] = _staff_id()
        if form.duration_minutes.data:
            body["duration_minutes"] = form.duration_minutes.data
        for name in ("findings", "outcomes"):
            if getattr(form, name).data:
                body[name] = getattr(form, name).data
        if form.participants.data:
            body["participants"] = [
                p.strip() for p in re.split(r"[,，]", form.participants.data) if p.strip()
            ]
        if form.follow_up_of.data:
            body["follow_up_of"] = _codes(form.follow_up_of.data)
        raised = _raised(form)
        if raised:
            body["demands_raised"] = raised
        try:
            visit = g.api.post("/visits/api/v1/visits", body)
        except Refused as exc:
            _place_visit_refusal(form, exc)
        else:
            flash(
                _(
                    "走访已登记，提出需求 %(n)d 条。",
                    n=len(visit.get("demands_raised") or raised),
                )
            )
            return redirect(url_for("work.visits"))
    status = 422 if request.method == "POST" else 200
    return render_template("work/visit_new.html", form=form), status


# --- plans ---------------------------------------------------------------------------------


class PlanForm(FlaskForm):
    plan_enterprises = SelectMultipleField(
        _l("计划走访企业"), validators=[DataRequired()], render_kw={"size": 4}
    )
    plan_kind = SelectField(_l("走访类型"), validators=[DataRequired()])
    planned_on = DateField(_l("计划日期"), validators=[DataRequired()])
    plan_note = TextAreaField(
        _l("备注"), validators=[Optional(), Length(max=2000)], render_kw={"rows": 2}
    )


class PlanActionForm(FlaskForm):
    visit_id = SelectField(_l("对应的走访"), validators=[Optional()])
    reason = StringField(_l("原因"), validators=[Optional(), Length(max=500)])


PLAN_ACTIONS = ("done", "missed", "cancel")


def _plan_form(enterprises: list[tuple[str, str]]) -> PlanForm:
    form = PlanForm()
    form.plan_enterprises.choices = options(enterprises)
    form.plan_kind.choices = options(choices("work_visit_kind"))
    return form


def _plans_page(form: PlanForm, status: int = 200, action_error: str | None = None) -> Any:
    plans = g.api.get("/visits/api/v1/plans", staff_id=_staff_id(), limit=200)["items"]
    mine = g.api.get("/visits/api/v1/visits", staff_id=_staff_id(), limit=50)["items"]
    action = PlanActionForm(formdata=None)
    action.visit_id.choices = options(
        [("", _("请选择"))]
        + [
            (
                v["visit_id"],
                f"{v['visited_on']} {_('、').join(e.get('name') or '' for e in v['enterprises'])}",
            )
            for v in mine
        ]
    )
    page = render_template(
        "work/plans.html", plans=plans, form=form, action=action, action_error=action_error
    )
    return page, status


@bp.route("/plans", methods=["GET", "POST"])
@requires(*OFFICE)
def plans() -> Any:
    form = _plan_form(_enterprises())
    if form.validate_on_submit():
        body: dict[str, Any] = {
            "enterprises": form.plan_enterprises.data,
            "kind": form.plan_kind.data,
            "planned_on": form.planned_on.data.isoformat(),
        }
        if _staff_id():
            body["staff_id"] = _staff_id()
        if form.plan_note.data:
            body["note"] = form.plan_note.data
        try:
            g.api.post("/visits/api/v1/plans", body)
        except Refused as exc:
            show_refusal(
                form,
                exc,
                {
                    "enterprises": "plan_enterprises",
                    "kind": "plan_kind",
                    "note": "plan_note",
                },
            )
        else:
            flash(_("走访计划已保存。"))
            return redirect(url_for("work.plans"))
    return _plans_page(form, 422 if request.method == "POST" else 200)


@bp.post("/plans/<plan_id>/<action>")
@requires(*OFFICE)
def plan_action(plan_id: str, action: str) -> Any:
    if action not in PLAN_ACTIONS:
        abort(404)
    form = PlanActionForm()
    form.visit_id.choices = None  # any visit id: the visits service checks it
    form.visit_id.validate_choice = False
    if form.validate_on_submit():
        body = (
            {"visit_id": form.visit_id.data or ""}
            if action == "done"
            else {"reason": form.reason.data or ""}
        )
        try:
            g.api.post(f"/visits/api/v1/plans/{plan_id}/{action}", body)
        except Refused as exc:
            messages = exc.field_messages()
            detail = "; ".join(m for ms in messages.values() for m in ms) or exc.message
            return _plans_page(_plan_form(_enterprises()), 422, action_error=detail)
        flash(_("计划已更新。"))
    return redirect(url_for("work.plans"))


# --- ledger --------------------------------------------------------------------------------


@bp.get("/ledger")
@requires(*OFFICE)
def ledger() -> Any:
    period = _period()
    answer, refused = None, None
    if _staff_id():
        try:
            answer = g.api.get("/visits/api/v1/ledger", unit=_staff_id(), period=period)
        except Refused as exc:
            refused = exc
    status = refused.status if refused and refused.status == 422 else 200
    page = render_template(
        "work/ledger.html",
        ledger=answer,
        period=period,
        refused=refused,
        has_staff=bool(_staff_id()),
    )
    return page, status


@bp.get("/ledger.xlsx")
@requires(*OFFICE)
def ledger_xlsx() -> Any:
    if not _staff_id():
        abort(404)
    try:
        return passthrough(
            "/visits/api/v1/ledger", unit=_staff_id(), period=_period(), format="xlsx"
        )
    except Refused as exc:
        flash(exc.message, "error")
        return redirect(url_for("work.ledger", period=_period()))


# --- scorecard -----------------------------------------------------------------------------

RECORDS_PAGE = 50


@bp.get("/scorecard")
@requires(*OFFICE)
def scorecard() -> Any:
    period = _period()
    card, refused = None, None
    if _staff_id():
        try:
            card = g.api.get("/scoring/api/v1/scorecards", unit=_staff_id(), period=period)
        except Refused as exc:
            refused = exc
    status = 422 if refused and refused.status == 422 else 200
    page = render_template(
        "work/scorecard.html",
        card=card,
        period=period,
        refused=refused,
        has_staff=bool(_staff_id()),
    )
    return page, status


@bp.get("/scorecard/records")
@requires(*OFFICE)
def scorecard_records() -> Any:
    """The records behind one item, a page at a time (a fragment for htmx's "more")."""
    if not _staff_id():
        abort(404)
    item = request.args.get("item") or ""
    offset = request.args.get("offset", type=int) or 0
    period = _period()
    try:
        page = g.api.get(
            "/scoring/api/v1/scorecards/records",
            unit=_staff_id(),
            period=period,
            item=item,
            offset=max(0, offset),
            limit=RECORDS_PAGE,
        )
    except Refused as exc:
        abort(404 if exc.status == 404 else 400)
    more = page["offset"] + len(page["items"])
    context = {
        "records": page["items"],
        "item": item,
        "period": period,
        "next_offset": more if more < page["total"] else None,
        "total": page["total"],
        "offset": page["offset"],
    }
    if request.headers.get("HX-Request"):
        return render_template("work/_records.html", **context)
    return render_template("work/records.html", **context)
