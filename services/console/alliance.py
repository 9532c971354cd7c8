"""服务联盟: the service station's alliance (members per category in rotation order, their
pauses, the dispatch decisions with their explanations, 调单, the standard-contract menu
and the rules in force) and an agency clerk's orders (acknowledge, report progress,
complete with settlement, refuse) — all read from and sent to dispatch's public API, which
decides who may see and do what."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, abort, flash, g, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import DateField, RadioField, StringField, TextAreaField
from wtforms.validators import DataRequired, Length, Optional

from services.console.client import Refused
from services.console.forms import options, show_refusal
from services.console.labels import register
from services.console.nav import AGENCY, LEADER, STATION, link, requires, roles_of

bp = Blueprint("alliance", __name__, url_prefix="/alliance")
# office staff and leaders read the alliance too (the services answer for their subtree)
READERS = (*STATION, "office_staff", *LEADER)
link("alliance.station", _l("服务联盟"), READERS)
link("alliance.orders", _l("机构订单"), AGENCY)

API = "/dispatch/api/v1"
FINAL = ("completed", "withdrawn", "reassigned")  # nothing more to do on the page

register(
    "agency_category",
    {"finance": _l("财务类"), "rd": _l("研发类"), "patent": _l("专利类"), "general": _l("综合类")},
)
register("agency_status", {"active": _l("正常"), "paused": _l("暂停派单"), "exited": _l("已退出")})
register(
    "outcome",
    {
        "ordered": _l("企业点单"),
        "rotation": _l("按排位轮转"),
        "cap_override": _l("均超上限，按排位派单"),
        "no_agency": _l("无可派机构"),
        "blacklisted": _l("企业黑名单，不派机构"),
    },
)
register(
    "rule",
    {
        "item_cap_percent": _l("单项业务量上限（%）"),
        "value_cap_percent": _l("业务额上限（%）"),
        "min_monthly_volume": _l("月度最低业务量"),
        "admission_min_engagements": _l("入盟最低服务次数（两年）"),
        "settlement_days": _l("结算期限（天）"),
        "bond_fraction_denominator": _l("保证金比例分母"),
        "bond_max": _l("保证金上限（元）"),
        "bond_after_months": _l("保证金起算（月）"),
        "reassignments_to_exit": _l("年度调单退出次数"),
        "warn_hours": _l("超时预警（小时）"),
    },
)


# --- forms ---------------------------------------------------------------------------------
class PauseForm(FlaskForm):
    until = DateField(_l("暂停至"), validators=[Optional()])
    reason = StringField(_l("暂停原因"), validators=[DataRequired(), Length(max=400)])


class ResumeForm(FlaskForm):
    reason = StringField(_l("恢复说明"), validators=[Optional(), Length(max=400)])


class ReassignForm(FlaskForm):
    note = StringField(_l("调单说明"), validators=[Optional(), Length(max=2000)])


class NoteForm(FlaskForm):
    note = TextAreaField(
        _l("确认说明"), validators=[Optional(), Length(max=2000)], render_kw={"rows": 2}
    )


class ProgressForm(FlaskForm):
    stage = RadioField(
        _l("进度"),
        choices=options([("started", _l("已开始服务")), ("feedback", _l("阶段反馈"))]),
        validators=[DataRequired()],
    )
    note = TextAreaField(
        _l("进展说明"), validators=[Optional(), Length(max=2000)], render_kw={"rows": 2}
    )


class CompleteForm(FlaskForm):
    goal_reached = RadioField(
        _l("服务目标"),
        choices=options([("yes", _l("已达成")), ("no", _l("未达成"))]),
        validators=[DataRequired()],
    )
    funds_received_on = DateField(_l("企业获得服务或政策资金的日期"), validators=[Optional()])
    note = TextAreaField(
        _l("完成说明"), validators=[Optional(), Length(max=2000)], render_kw={"rows": 2}
    )


class RefuseForm(FlaskForm):
    reason = TextAreaField(
        _l("拒单理由"), validators=[DataRequired(), Length(max=2000)], render_kw={"rows": 2}
    )


# --- the station's alliance -----------------------------------------------------------------
def _item_names() -> dict[str, str]:
    """The catalogue's service items by code → name."""
    catalogue = g.api.get("/intake/api/v1/services")["categories"]
    return {i["code"]: i["name"] for c in catalogue for i in c.get("items") or []}


def _optional(path: str, **params: Any) -> Any:
    """A read the person may not be allowed: None when the service refuses it."""
    try:
        return g.api.get(path, **params)
    except Refused:
        return None


def _grouped(members: list[dict[str, Any]]) -> list[tuple[str, list[dict[str, Any]]]]:
    """Members per category, in the order the service gave (its rotation order)."""
    groups: dict[str, list[dict[str, Any]]] = {}
    for m in members:
        groups.setdefault(m["category"], []).append(m)
    return list(groups.items())


def _station_page(
    pause: dict[str, PauseForm] | None = None,
    resume: dict[str, ResumeForm] | None = None,
    reassign: dict[str, ReassignForm] | None = None,
) -> str:
    unit = request.args.get("city") or g.person["unit"]
    offers = g.api.get(f"{API}/alliances/{unit}/offers")
    city = offers["city"]
    members = [
        a for a in g.api.get(f"{API}/agencies")["items"] if city and a["jurisdiction"] == city
    ]
    rules = _optional(f"{API}/alliances/{city}/rules") if city else None
    menu = (_optional(f"{API}/alliances/{city}/menu") or {"items": []})["items"] if city else []
    decisions = g.api.get(f"{API}/decisions", limit=50)["items"]
    orders = g.api.get(f"{API}/assignments", kind="agency", limit=200)["items"]
    if city:
        orders = [o for o in orders if o.get("city") == city]
    runs = bool(roles_of(g.person) & set(STATION))  # the station's people act; others read
    pause, resume, reassign = pause or {}, resume or {}, reassign or {}
    # a refused action on a member or order this page does not list: its messages on top
    listed = {m["id"] for m in members} | {o["id"] for o in orders}
    unlisted = [
        message
        for acting in (pause, resume, reassign)
        for key, form in acting.items()
        if key not in listed
        for message in [*form.form_errors, *(e for es in form.errors.values() for e in es)]
    ]
    for m in members:
        pause.setdefault(m["id"], PauseForm(prefix=f"pause-{m['id']}", formdata=None))
        resume.setdefault(m["id"], ResumeForm(prefix=f"resume-{m['id']}", formdata=None))
    for o in orders:
        reassign.setdefault(o["id"], ReassignForm(prefix=f"reassign-{o['id']}", formdata=None))
    return render_template(
        "alliance/station.html",
        city=city,
        unit=unit,
        groups=_grouped(members),
        offers=_grouped(offers["items"]) if not members else [],
        rules=rules,
        menu=menu,
        items=_item_names(),
        decisions=decisions,
        orders=orders,
        final=FINAL,
        runs=runs,
        pause=pause,
        resume=resume,
        reassign=reassign,
        unlisted=unlisted,
    )


@bp.get("/")
@requires(*READERS)
def station() -> Any:
    return _station_page()


def _back() -> Any:
    city = request.args.get("city")
    return redirect(url_for("alliance.station", city=city) if city else url_for("alliance.station"))


@bp.post("/agencies/<agency_id>/pause")
@requires(*STATION)
def pause(agency_id: str) -> Any:
    form = PauseForm(prefix=f"pause-{agency_id}")
    if form.validate_on_submit():
        body = {"until": form.until.data.isoformat() if form.until.data else None}
        body["reason"] = form.reason.data
        try:
            g.api.post(f"{API}/agencies/{agency_id}/pause", body)
        except Refused as exc:
            show_refusal(form, exc)
        else:
            flash(_("已暂停向 %(id)s 派单。", id=agency_id))
            return _back()
    return _station_page(pause={agency_id: form}), 422


@bp.post("/agencies/<agency_id>/resume")
@requires(*STATION)
def resume(agency_id: str) -> Any:
    form = ResumeForm(prefix=f"resume-{agency_id}")
    if form.validate_on_submit():
        body = {"reason": form.reason.data} if form.reason.data else {}
        try:
            g.api.post(f"{API}/agencies/{agency_id}/resume", body)
        except Refused as exc:
            show_refusal(form, exc)
        else:
            flash(_("已恢复向 %(id)s 派单。", id=agency_id))
            return _back()
    return _station_page(resume={agency_id: form}), 422


@bp.post("/assignments/<assignment_id>/reassign")
@requires(*STATION)
def reassign(assignment_id: str) -> Any:
    form = ReassignForm(prefix=f"reassign-{assignment_id}")
    if form.validate_on_submit():
        try:
            moved = g.api.post(
                f"{API}/assignments/{assignment_id}/reassign", {"note": form.note.data or ""}
            )
        except Refused as exc:
            show_refusal(form, exc)
        else:
            flash(_("已调单，改派 %(to)s。", to=moved.get("reassigned_to") or ""))
            return _back()
    return _station_page(reassign={assignment_id: form}), 422


# --- an agency clerk's orders ---------------------------------------------------------------
@bp.get("/orders")
@requires(*AGENCY)
def orders() -> Any:
    status = request.args.get("status") or None
    items = g.api.get(f"{API}/assignments", kind="agency", status=status, limit=200)["items"]
    return render_template(
        "alliance/orders.html", orders=items, status=status, final=FINAL, items=_item_names()
    )


ACTIONS: dict[str, type[FlaskForm]] = {
    "acknowledge": NoteForm,
    "progress": ProgressForm,
    "complete": CompleteForm,
    "refuse": RefuseForm,
}


def _order_page(assignment_id: str, acting: dict[str, FlaskForm] | None = None) -> str:
    try:
        order = g.api.get(f"{API}/assignments/{assignment_id}")
    except Refused as exc:
        abort(exc.status if exc.status in (403, 404) else 400)
    forms = {name: cls(prefix=name, formdata=None) for name, cls in ACTIONS.items()} | (
        acting or {}
    )
    return render_template(
        "alliance/order.html", order=order, forms=forms, final=FINAL, items=_item_names()
    )


@bp.get("/orders/<assignment_id>")
@requires(*AGENCY)
def order(assignment_id: str) -> Any:
    return _order_page(assignment_id)


def _body(action: str, form: Any) -> dict[str, Any]:
    if action == "progress":
        return {"stage": form.stage.data, "note": form.note.data or ""}
    if action == "complete":
        funds = form.funds_received_on.data
        return {
            "goal_reached": form.goal_reached.data == "yes",
            "funds_received_on": funds.isoformat() if funds else None,
            "note": form.note.data or "",
        }
    if action == "refuse":
        return {"reason": form.reason.data}
    return {"note": form.note.data or ""}


DONE = {
    "acknowledge": _l("已确认接单。"),
    "progress": _l("已报告进展。"),
    "complete": _l("已提交完成情况。"),
    "refuse": _l("已拒单，服务站将协调。"),
}


@bp.post("/orders/<assignment_id>/<action>")
@requires(*AGENCY)
def act(assignment_id: str, action: str) -> Any:
    if action not in ACTIONS:
        abort(404)
    form = ACTIONS[action](prefix=action)
    if form.validate_on_submit():
        try:
            g.api.post(f"{API}/assignments/{assignment_id}/{action}", _body(action, form))
        except Refused as exc:
            show_refusal(form, exc)
        else:
            flash(str(DONE[action]))
            return redirect(url_for("alliance.order", assignment_id=assignment_id))
    return _order_page(assignment_id, {action: form}), 422
