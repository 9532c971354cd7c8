"""系统管理: the administrators' pages, each for one of the three separate roles (三员分立).

* the system administrator (``sysadmin``): units and onboarding (here), departments and
  staff, the responsibility map and agencies (``admin_org``), rule sets and time limits
  (``admin_rules``);
* the security administrator (``secadmin``): accounts and roles (here);
* the audit administrator (``auditor``): the audit log (``admin_rules``).

Each page is guarded for its own role and its menu link shown to that role only; what a
person may do is still the services' decision (a refusal shows their message).
"""

from __future__ import annotations

import re
from typing import Any

from flask import Blueprint, abort, flash, g, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import PasswordField, SelectField, SelectMultipleField, StringField, TextAreaField
from wtforms.validators import DataRequired, Length, Optional
from wtforms.widgets import CheckboxInput, ListWidget

from services.console.client import Refused
from services.console.forms import options, show_refusal
from services.console.labels import register
from services.console.nav import ADMINS, link, requires, roles_of

bp = Blueprint("admin", __name__, url_prefix="/admin")

SYS = ("sysadmin",)
SEC = ("secadmin",)
AUD = ("auditor",)

link("admin.index", _l("系统管理"), ADMINS)
link("admin.units", _l("单位与开通"), SYS)
link("admin.departments", _l("部室与人员"), SYS)
link("admin.responsibility_map", _l("包保责任"), SYS)
link("admin.agencies", _l("服务机构"), SYS)
link("admin.rules", _l("规则"), SYS)
link("admin.time_limits", _l("办结时限"), SYS)
link("admin.people", _l("账号与角色"), SEC)
link("admin.audit", _l("审计日志"), AUD)

ROLES = {
    "sysadmin": _l("系统管理员"),
    "secadmin": _l("安全管理员"),
    "auditor": _l("审计管理员"),
    "leader": _l("领导"),
    "office_staff": _l("办理人员"),
    "station_staff": _l("服务站人员"),
    "commissioner": _l("科技特派员"),
    "agency_clerk": _l("服务机构办事员"),
    "enterprise": _l("企业用户"),
}
LEVELS = {
    "province": _l("省"),
    "prefecture": _l("市（州）"),
    "county": _l("县（区）"),
    "township": _l("乡镇（街道）"),
    "park": _l("园区"),
    "station": _l("科技服务站"),
    "workstation": _l("园区工作站"),
}
CHANGES = {
    "opened": _l("开通"),
    "renamed": _l("更名"),
    "retired": _l("撤销"),
    "reopened": _l("恢复"),
    "moved": _l("调整隶属"),
}
register("role", ROLES)
register("level", LEVELS)
register("unit_change", CHANGES)

UNIT_CODE = r"^[1-9]\d{5}(\d{3})?(-[PSW]\d{4}){0,3}$"
OPENABLE = ("township", "park", "station", "workstation")

# a menu page for each role, in the overview
PAGES = (
    ("admin.units", _l("单位与开通"), _l("浏览单位树，开通乡镇、园区、服务站，更名或撤销。"), SYS),
    ("admin.departments", _l("部室与人员"), _l("包保责任部室和人员。"), SYS),
    ("admin.responsibility_map", _l("包保责任"), _l("企业的包保部室和责任人，人员调整移交。"), SYS),
    ("admin.agencies", _l("服务机构"), _l("会员服务机构的准入和退出。"), SYS),
    ("admin.rules", _l("规则"), _l("考核评价规则和联盟规则：查看现行版本，发布新版本。"), SYS),
    ("admin.time_limits", _l("办结时限"), _l("各类需求的办结时限、首次响应时限和停办日。"), SYS),
    ("admin.people", _l("账号与角色"), _l("开设账号，调整角色，停用或启用。"), SEC),
    ("admin.audit", _l("审计日志"), _l("安全审计记录：登录、账号、密钥和拒绝的访问。"), AUD),
)


def fetch(path: str, **params: Any) -> Any:
    """A service's answer for a page; its refusal is the page's 403/404 (400 else)."""
    try:
        return g.api.get(path, **params)
    except Refused as exc:
        abort(exc.status if exc.status in (403, 404) else 400)


def lines(text: str | None) -> list[str]:
    """The values of a textarea or a field, one per line or separated by commas/spaces."""
    return [v for v in re.split(r"[\s,，;；]+", text or "") if v]


def refused_status(form: FlaskForm) -> int:
    return 422 if form.errors or form.form_errors else 200


@bp.get("/")
@requires(*ADMINS)
def index() -> Any:
    mine = roles_of(g.person)
    pages = [p for p in PAGES if mine & set(p[3])]
    return render_template("admin/index.html", pages=pages)


# --- units and onboarding (sysadmin) ----------------------------------------------------------


class OpenUnitForm(FlaskForm):
    open_kind = SelectField(
        _l("单位类型"),
        choices=options((k, LEVELS[k]) for k in OPENABLE),
        validators=[DataRequired()],
    )
    open_name = StringField(_l("单位名称"), validators=[DataRequired(), Length(max=100)])
    open_code = StringField(
        _l("统一代码（乡镇必填：9位国家代码）"),
        validators=[Optional(), Length(max=9)],
        render_kw={"inputmode": "numeric"},
    )


class RenameUnitForm(FlaskForm):
    rename_name = StringField(_l("新名称"), validators=[DataRequired(), Length(max=100)])
    rename_reason = StringField(_l("更名原因"), validators=[DataRequired(), Length(max=500)])


class RetireUnitForm(FlaskForm):
    retire_successor = StringField(_l("承接单位代码"), validators=[Optional(), Length(max=40)])
    retire_reason = StringField(_l("撤销原因"), validators=[DataRequired(), Length(max=500)])


class ReopenUnitForm(FlaskForm):
    reopen_reason = StringField(_l("恢复原因"), validators=[DataRequired(), Length(max=500)])


def _unit_page(code: str, status: int = 200, **forms: FlaskForm) -> Any:
    unit = fetch(f"/directory/api/v1/units/{code}")
    children = fetch("/directory/api/v1/units", parent=code, include_retired="true")["items"]
    path = [fetch(f"/directory/api/v1/units/{c}") for c in unit.get("path", [])[:-1]]
    page = render_template(
        "admin/unit.html",
        unit=unit,
        children=children,
        path=path,
        open_form=forms.get("open_form") or OpenUnitForm(formdata=None),
        rename_form=forms.get("rename_form") or RenameUnitForm(formdata=None),
        retire_form=forms.get("retire_form") or RetireUnitForm(formdata=None),
        reopen_form=forms.get("reopen_form") or ReopenUnitForm(formdata=None),
    )
    return page, status


@bp.get("/units")
@requires(*SYS)
def units() -> Any:
    wanted = (request.args.get("code") or "").strip()
    if wanted:
        if not re.match(UNIT_CODE, wanted):
            flash(_("单位代码格式不对：%(code)s", code=wanted), "error")
        else:
            return redirect(url_for("admin.unit", code=wanted))
    return redirect(url_for("admin.unit", code=g.person["unit"]))


@bp.get("/units/<code>")
@requires(*SYS)
def unit(code: str) -> Any:
    return _unit_page(code)


@bp.post("/units/<code>/children")
@requires(*SYS)
def open_unit(code: str) -> Any:
    form = OpenUnitForm()
    if form.validate_on_submit():
        body = {"parent": code, "kind": form.open_kind.data, "name": form.open_name.data}
        if form.open_code.data:
            body["code"] = form.open_code.data.strip()
        try:
            opened = g.api.post("/directory/api/v1/units", body)
        except Refused as exc:
            show_refusal(form, exc, {"kind": "open_kind", "name": "open_name", "code": "open_code"})
        else:
            flash(_("已开通 %(name)s（%(code)s）。", name=opened["name"], code=opened["code"]))
            return redirect(url_for("admin.unit", code=opened["code"]))
    return _unit_page(code, 422, open_form=form)


def _change(code: str, form: FlaskForm, body: dict[str, Any], names: dict[str, str]) -> Any:
    try:
        g.api.patch(f"/directory/api/v1/units/{code}", body)
    except Refused as exc:
        show_refusal(form, exc, names)
        return None
    flash(_("单位已更新。"))
    return redirect(url_for("admin.unit", code=code))


@bp.post("/units/<code>/rename")
@requires(*SYS)
def rename_unit(code: str) -> Any:
    form = RenameUnitForm()
    if form.validate_on_submit():
        body = {"name": form.rename_name.data, "reason": form.rename_reason.data}
        done = _change(code, form, body, {"name": "rename_name", "reason": "rename_reason"})
        if done is not None:
            return done
    return _unit_page(code, 422, rename_form=form)


@bp.post("/units/<code>/retire")
@requires(*SYS)
def retire_unit(code: str) -> Any:
    form = RetireUnitForm()
    if form.validate_on_submit():
        body: dict[str, Any] = {"retire": True, "reason": form.retire_reason.data}
        if form.retire_successor.data:
            body["successor"] = form.retire_successor.data.strip()
        names = {"successor": "retire_successor", "reason": "retire_reason", "retire": ""}
        done = _change(code, form, body, names)
        if done is not None:
            return done
    return _unit_page(code, 422, retire_form=form)


@bp.post("/units/<code>/reopen")
@requires(*SYS)
def reopen_unit(code: str) -> Any:
    form = ReopenUnitForm()
    if form.validate_on_submit():
        body = {"reopen": True, "reason": form.reopen_reason.data}
        done = _change(code, form, body, {"reason": "reopen_reason", "reopen": ""})
        if done is not None:
            return done
    return _unit_page(code, 422, reopen_form=form)


# --- accounts and roles (secadmin) ------------------------------------------------------------


class MultiCheckboxField(SelectMultipleField):
    widget = ListWidget(prefix_label=False)
    option_widget = CheckboxInput()


def _role_field() -> MultiCheckboxField:
    return MultiCheckboxField(
        _l("角色"), choices=options(ROLES.items()), validators=[DataRequired()]
    )


class BindingsMixin:
    staff_id = StringField(_l("包保人员编号（办理人员）"), validators=[Optional(), Length(max=40)])
    agency_id = StringField(
        _l("服务机构编号（服务机构办事员）"), validators=[Optional(), Length(max=40)]
    )
    credit_codes = TextAreaField(
        _l("企业统一社会信用代码（企业用户，每行一个）"),
        validators=[Optional(), Length(max=2000)],
        render_kw={"rows": 2},
    )


class PersonForm(BindingsMixin, FlaskForm):
    person_id = StringField(
        _l("登录名"),
        validators=[DataRequired(), Length(max=40)],
        render_kw={"autocomplete": "off"},
    )
    name = StringField(_l("姓名"), validators=[DataRequired(), Length(max=100)])
    unit = StringField(_l("所属单位代码"), validators=[DataRequired(), Length(max=40)])
    roles = _role_field()
    password = PasswordField(
        _l("初始密码"),
        validators=[DataRequired(), Length(max=128)],
        render_kw={"autocomplete": "new-password"},
    )


class RolesForm(FlaskForm):
    roles = _role_field()
    agency_id = StringField(
        _l("服务机构编号（服务机构办事员）"), validators=[Optional(), Length(max=40)]
    )
    credit_codes = TextAreaField(
        _l("企业统一社会信用代码（企业用户，每行一个）"),
        validators=[Optional(), Length(max=2000)],
        render_kw={"rows": 2},
    )


class ToggleForm(FlaskForm):
    """Disable or enable: the CSRF token only."""


PERSON_FIELDS = {"credit_codes.0": "credit_codes", "roles.0": "roles"}


@bp.get("/people")
@requires(*SEC)
def people() -> Any:
    unit_code = (request.args.get("unit") or "").strip() or None
    answer = fetch("/directory/api/v1/people", unit=unit_code)
    return render_template("admin/people.html", people=answer["items"], unit=unit_code)


@bp.route("/people/new", methods=["GET", "POST"])
@requires(*SEC)
def new_person() -> Any:
    form = PersonForm()
    if request.method == "GET" and request.args.get("unit"):
        form.unit.data = request.args["unit"]
    if form.validate_on_submit():
        body: dict[str, Any] = {
            "person_id": form.person_id.data.strip(),
            "name": form.name.data,
            "unit": form.unit.data.strip(),
            "roles": form.roles.data,
            "password": form.password.data,
        }
        if form.staff_id.data:
            body["staff_id"] = form.staff_id.data.strip()
        if form.agency_id.data:
            body["agency_id"] = form.agency_id.data.strip()
        if lines(form.credit_codes.data):
            body["credit_codes"] = lines(form.credit_codes.data)
        try:
            created = g.api.post("/directory/api/v1/people", body)
        except Refused as exc:
            show_refusal(form, exc, PERSON_FIELDS)
        else:
            return render_template("admin/created.html", created=created, new=True)
    return render_template("admin/person_new.html", form=form), refused_status(form)


def _person_page(person_id: str, status: int = 200, roles_form: RolesForm | None = None) -> Any:
    who = fetch(f"/directory/api/v1/people/{person_id}")
    if roles_form is None:
        roles_form = RolesForm(
            formdata=None,
            roles=who["roles"],
            agency_id=who.get("agency_id") or "",
            credit_codes="\n".join(who.get("credit_codes") or []),
        )
    page = render_template(
        "admin/person.html", who=who, roles_form=roles_form, toggle=ToggleForm(formdata=None)
    )
    return page, status


@bp.get("/people/<person_id>")
@requires(*SEC)
def person(person_id: str) -> Any:
    return _person_page(person_id)


@bp.post("/people/<person_id>/roles")
@requires(*SEC)
def change_roles(person_id: str) -> Any:
    form = RolesForm()
    if form.validate_on_submit():
        body: dict[str, Any] = {"roles": form.roles.data}
        if form.agency_id.data:
            body["agency_id"] = form.agency_id.data.strip()
        if lines(form.credit_codes.data):
            body["credit_codes"] = lines(form.credit_codes.data)
        try:
            changed = g.api.put(f"/directory/api/v1/people/{person_id}/roles", body)
        except Refused as exc:
            show_refusal(form, exc, PERSON_FIELDS)
        else:
            if changed.get("second_factor_secret"):
                return render_template("admin/created.html", created=changed, new=False)
            flash(_("角色已更新。"))
            return redirect(url_for("admin.person", person_id=person_id))
    return _person_page(person_id, 422, form)


@bp.post("/people/<person_id>/<any(disable, enable):action>")
@requires(*SEC)
def toggle_person(person_id: str, action: str) -> Any:
    form = ToggleForm()
    if form.validate_on_submit():
        try:
            g.api.post(f"/directory/api/v1/people/{person_id}/{action}")
        except Refused as exc:
            flash(exc.message, "error")
        else:
            flash(_("账号已停用。") if action == "disable" else _("账号已启用。"))
    return redirect(url_for("admin.person", person_id=person_id))


# the other pages, on this blueprint (imported last: they use ``bp``)
from services.console import admin_org, admin_rules  # noqa: E402

__all__ = ["admin_org", "admin_rules", "bp"]
