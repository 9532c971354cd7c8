"""The system administrator's organisation pages (on the ``admin`` blueprint): departments
and staff, the responsibility map (包保责任: an enterprise's owner, a staff transfer) and
the agencies (admission, exit). Every rule — who may be linked, transferred, admitted — is
the dispatch service's; a refusal shows its messages by the fields."""

from __future__ import annotations

from typing import Any

from flask import flash, g, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import BooleanField, IntegerField, SelectField, StringField, TextAreaField
from wtforms.validators import DataRequired, InputRequired, Length, Optional

from services.console.admin import SYS, bp, fetch, lines, refused_status
from services.console.client import Refused
from services.console.forms import options, show_refusal
from services.console.labels import register
from services.console.nav import requires

CATEGORIES = {
    "finance": _l("科技金融"),
    "rd": _l("研发服务"),
    "patent": _l("知识产权"),
    "general": _l("综合服务"),
}
AGENCY_STATUS = {"active": _l("正常"), "paused": _l("暂停派单"), "exited": _l("已退出")}
EXIT_GROUNDS = {
    "refusal": _l("无故拒接派单，经协调仍不服从"),
    "unfair_competition": _l("不正当竞争"),
    "low_quality": _l("服务质量差"),
    "infringement": _l("侵害企业合法权益"),
    "reputation": _l("损害联盟声誉"),
    "reassignments": _l("多次被调单"),
}
register("agency_category", CATEGORIES)
register("agency_status", AGENCY_STATUS)
register("exit_ground", EXIT_GROUNDS)


# --- departments and staff --------------------------------------------------------------------


class DepartmentForm(FlaskForm):
    dept_id = StringField(_l("部室编号"), validators=[DataRequired(), Length(max=40)])
    name = StringField(_l("部室名称"), validators=[DataRequired(), Length(max=200)])
    jurisdiction = StringField(_l("所属单位代码"), validators=[DataRequired(), Length(max=40)])
    segments = StringField(
        _l("联系的需求类别或企业梯次（逗号分隔）"), validators=[Optional(), Length(max=1000)]
    )
    is_default = BooleanField(_l("本单位的默认部室"))
    leader_staff_id = StringField(
        _l("分管负责人（人员编号）"), validators=[Optional(), Length(max=40)]
    )
    phone = StringField(_l("联系电话"), validators=[Optional(), Length(max=40)])
    service_hours = StringField(_l("服务时间"), validators=[Optional(), Length(max=100)])


class StaffForm(FlaskForm):
    staff_id = StringField(_l("人员编号"), validators=[DataRequired(), Length(max=40)])
    name = StringField(_l("姓名"), validators=[DataRequired(), Length(max=100)])
    department_id = SelectField(_l("所属部室"), validators=[DataRequired()])
    title = StringField(_l("职务"), validators=[Optional(), Length(max=100)])
    phone = StringField(_l("联系电话"), validators=[Optional(), Length(max=40)])


class TransferForm(FlaskForm):
    to_staff_id = SelectField(_l("移交给"), validators=[DataRequired()])
    reason = StringField(_l("移交原因"), validators=[DataRequired(), Length(max=500)])
    open_assignments = BooleanField(_l("同时移交未办结的需求"), default=True)


def _departments() -> list[dict[str, Any]]:
    return list(fetch("/dispatch/api/v1/departments")["items"])


def _staff() -> list[dict[str, Any]]:
    return list(fetch("/dispatch/api/v1/staff")["items"])


@bp.get("/departments")
@requires(*SYS)
def departments() -> Any:
    return render_template("admin/departments.html", departments=_departments(), staff=_staff())


@bp.route("/departments/new", methods=["GET", "POST"], defaults={"dept_id": None})
@bp.route("/departments/<dept_id>", methods=["GET", "POST"])
@requires(*SYS)
def department(dept_id: str | None) -> Any:
    known = next((d for d in _departments() if d["id"] == dept_id), None)
    if dept_id is not None and known is None:
        return render_template("error.html", status=404), 404
    form = DepartmentForm()
    if request.method == "GET" and known:
        form.process(
            data={**known, "dept_id": known["id"], "segments": ", ".join(known["segments"])}
        )
    elif request.method == "GET":
        form.jurisdiction.data = g.person["unit"]
    if dept_id is not None:
        form.dept_id.data = dept_id
    if form.validate_on_submit():
        body = {
            "name": form.name.data,
            "jurisdiction": form.jurisdiction.data.strip(),
            "segments": lines(form.segments.data),
            "is_default": bool(form.is_default.data),
            "leader_staff_id": (form.leader_staff_id.data or "").strip() or None,
            "phone": form.phone.data or None,
            "service_hours": form.service_hours.data or None,
        }
        try:
            g.api.put(f"/dispatch/api/v1/departments/{form.dept_id.data.strip()}", body)
        except Refused as exc:
            show_refusal(form, exc, {"segments.0": "segments"})
        else:
            flash(_("部室已保存。"))
            return redirect(url_for("admin.departments"))
    page = render_template("admin/department.html", form=form, known=known)
    return page, refused_status(form)


def _staff_form(staff_id: str | None, known: dict[str, Any] | None) -> StaffForm:
    form = StaffForm()
    form.department_id.choices = options((d["id"], d["name"]) for d in _departments())
    if request.method == "GET" and known:
        form.process(data={**known, "staff_id": known["id"]})
    if staff_id is not None:
        form.staff_id.data = staff_id
    return form


def _transfer_form(staff_id: str, everyone: list[dict[str, Any]]) -> TransferForm:
    form = TransferForm()
    form.to_staff_id.choices = options(
        (
            s["id"],
            _("%(name)s（%(id)s，%(unit)s）", name=s["name"], id=s["id"], unit=s["jurisdiction"]),
        )
        for s in everyone
        if s["id"] != staff_id
    )
    return form


@bp.route("/staff/new", methods=["GET", "POST"], defaults={"staff_id": None})
@bp.route("/staff/<staff_id>", methods=["GET", "POST"])
@requires(*SYS)
def staff(staff_id: str | None) -> Any:
    everyone = _staff()
    known = next((s for s in everyone if s["id"] == staff_id), None)
    if staff_id is not None and known is None:
        return render_template("error.html", status=404), 404
    form = _staff_form(staff_id, known)
    if form.validate_on_submit():
        body = {
            "department_id": form.department_id.data,
            "name": form.name.data,
            "title": form.title.data or None,
            "phone": form.phone.data or None,
        }
        try:
            g.api.put(f"/dispatch/api/v1/staff/{form.staff_id.data.strip()}", body)
        except Refused as exc:
            show_refusal(form, exc)
        else:
            flash(_("人员已保存。"))
            return redirect(url_for("admin.departments"))
    transfer = _transfer_form(staff_id, everyone) if staff_id else None
    page = render_template("admin/staff.html", form=form, known=known, transfer=transfer)
    return page, refused_status(form)


@bp.post("/staff/<staff_id>/transfer")
@requires(*SYS)
def transfer(staff_id: str) -> Any:
    everyone = _staff()
    known = next((s for s in everyone if s["id"] == staff_id), None)
    if known is None:
        return render_template("error.html", status=404), 404
    form = _transfer_form(staff_id, everyone)
    if form.validate_on_submit():
        body = {
            "to_staff_id": form.to_staff_id.data,
            "reason": form.reason.data,
            "open_assignments": bool(form.open_assignments.data),
        }
        try:
            moved = g.api.post(f"/dispatch/api/v1/staff/{staff_id}/transfer", body)
        except Refused as exc:
            show_refusal(form, exc)
        else:
            flash(
                _(
                    "已移交：企业 %(enterprises)s 家，需求 %(assignments)s 件。",
                    enterprises=len(moved.get("enterprises") or []),
                    assignments=len(moved.get("assignments") or []),
                )
            )
            return redirect(url_for("admin.responsibility_map", staff_id=moved["to_staff_id"]))
    page = render_template(
        "admin/staff.html", form=_staff_form(staff_id, known), known=known, transfer=form
    )
    return page, 422


# --- the responsibility map -------------------------------------------------------------------


class OwnerForm(FlaskForm):
    department_id = SelectField(_l("包保部室"), validators=[Optional()])
    staff_id = SelectField(_l("责任人"), validators=[Optional()])
    reason = StringField(_l("原因"), validators=[Optional(), Length(max=500)])


MAP_FILTERS = ("jurisdiction", "department_id", "staff_id", "segment")


@bp.get("/map")
@requires(*SYS)
def responsibility_map() -> Any:
    wanted = {k: (request.args.get(k) or "").strip() or None for k in MAP_FILTERS}
    cursor = request.args.get("cursor") or None
    try:
        answer = g.api.get("/dispatch/api/v1/responsibility-map", cursor=cursor, limit=50, **wanted)
        problem = None
    except Refused as exc:
        answer, problem = {"items": [], "next_cursor": None}, exc
    page = render_template(
        "admin/map.html",
        links=answer["items"],
        next_cursor=answer.get("next_cursor"),
        wanted=wanted,
        query={k: v for k, v in wanted.items() if v},
        cursor=cursor,
        problem=problem,
        departments=_departments(),
        staff=_staff(),
    )
    return page, (problem.status if problem else 200)


def _owner_form(link: dict[str, Any] | None) -> OwnerForm:
    form = OwnerForm()
    form.department_id.choices = options(
        [("", _("（按规则，不指定）"))] + [(d["id"], d["name"]) for d in _departments()]
    )
    form.staff_id.choices = options(
        [("", _("（不指定个人）"))]
        + [(s["id"], _("%(name)s（%(id)s）", name=s["name"], id=s["id"])) for s in _staff()]
    )
    if request.method == "GET" and link and link.get("basis") == "explicit":
        form.department_id.data = link.get("department_id") or ""
        form.staff_id.data = link.get("staff_id") or ""
    return form


@bp.route("/map/<credit_code>", methods=["GET", "POST"])
@requires(*SYS)
def owner(credit_code: str) -> Any:
    current = fetch(f"/dispatch/api/v1/enterprises/{credit_code}/owner")
    form = _owner_form(current.get("link"))
    if form.validate_on_submit():
        body = {
            "department_id": form.department_id.data or None,
            "staff_id": form.staff_id.data or None,
            "reason": form.reason.data or "",
        }
        try:
            g.api.put(f"/dispatch/api/v1/enterprises/{credit_code}/owner", body)
        except Refused as exc:
            show_refusal(form, exc)
        else:
            flash(_("包保责任已更新。"))
            return redirect(url_for("admin.owner", credit_code=credit_code))
    page = render_template("admin/owner.html", current=current, form=form)
    return page, refused_status(form)


# --- agencies ---------------------------------------------------------------------------------


class AdmissionForm(FlaskForm):
    agency_id = StringField(
        _l("机构编号（小写字母、数字、连字符）"), validators=[DataRequired(), Length(max=39)]
    )
    name = StringField(_l("机构名称"), validators=[DataRequired(), Length(max=200)])
    category = SelectField(
        _l("服务类别"), choices=options(CATEGORIES.items()), validators=[DataRequired()]
    )
    city = StringField(_l("所属联盟（市级单位代码）"), validators=[DataRequired(), Length(max=40)])
    engagements_two_years = IntegerField(
        _l("近两年承接市内高企业务（单）"), validators=[InputRequired()]
    )
    rank_basis = IntegerField(_l("上年度市内高企业务量（排序依据）"), validators=[InputRequired()])


class ExitForm(FlaskForm):
    ground = SelectField(
        _l("退出情形（第二十二条）"),
        choices=options(EXIT_GROUNDS.items()),
        validators=[DataRequired()],
    )
    note = TextAreaField(
        _l("说明"), validators=[DataRequired(), Length(max=400)], render_kw={"rows": 2}
    )


@bp.get("/agencies")
@requires(*SYS)
def agencies() -> Any:
    category = request.args.get("category") or None
    status = request.args.get("status") or None
    items = fetch("/dispatch/api/v1/agencies", category=category, status=status)["items"]
    return render_template("admin/agencies.html", agencies=items, category=category, status=status)


@bp.route("/agencies/new", methods=["GET", "POST"])
@requires(*SYS)
def admit() -> Any:
    form = AdmissionForm()
    if request.method == "GET":
        form.city.data = g.person["unit"]
    if form.validate_on_submit():
        body = {
            "id": form.agency_id.data.strip(),
            "name": form.name.data,
            "category": form.category.data,
            "city": form.city.data.strip(),
            "engagements_two_years": form.engagements_two_years.data,
            "rank_basis": form.rank_basis.data,
        }
        try:
            admitted = g.api.post("/dispatch/api/v1/agencies", body)
        except Refused as exc:
            show_refusal(form, exc, {"id": "agency_id"})
        else:
            return render_template("admin/admitted.html", agency=admitted)
    return render_template("admin/admit.html", form=form), refused_status(form)


@bp.route("/agencies/<agency_id>", methods=["GET", "POST"])
@requires(*SYS)
def agency(agency_id: str) -> Any:
    form = ExitForm()
    if form.validate_on_submit():
        try:
            g.api.post(
                f"/dispatch/api/v1/agencies/{agency_id}/exit",
                {"ground": form.ground.data, "note": form.note.data},
            )
        except Refused as exc:
            show_refusal(form, exc)
        else:
            flash(_("该机构已退出联盟。"))
            return redirect(url_for("admin.agency", agency_id=agency_id))
    record = fetch(f"/dispatch/api/v1/agencies/{agency_id}")
    page = render_template("admin/agency.html", agency=record, form=form)
    return page, refused_status(form)
