"""The online service hall (网上服务大厅) of an enterprise's people: file a demand or order
a service from the catalogue, follow each demand's progress, rate it after closure, grant
or withdraw the consent to share its content (XN 线上征集; QCY 线上线下一体化)."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, abort, flash, g, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import BooleanField, RadioField, SelectField, StringField, TextAreaField
from wtforms.validators import DataRequired, Length, Optional

from services.console.client import Refused
from services.console.forms import RATINGS, options, show_refusal
from services.console.labels import choices
from services.console.nav import ENTERPRISE, link, requires

bp = Blueprint("hall", __name__, url_prefix="/hall")
link("hall.index", _l("我的需求"), ENTERPRISE)
link("hall.file", _l("提交需求"), ENTERPRISE)


class DemandForm(FlaskForm):
    enterprise = SelectField(_l("企业"), validators=[DataRequired()])
    category = SelectField(_l("需求类别"), validators=[DataRequired()])
    service_item = SelectField(_l("服务事项"), validators=[Optional()])
    title = StringField(_l("需求名称"), validators=[DataRequired(), Length(max=200)])
    description = TextAreaField(
        _l("需求内容"), validators=[DataRequired(), Length(max=5000)], render_kw={"rows": 6}
    )
    contact_name = StringField(_l("联系人"), validators=[Optional(), Length(max=100)])
    contact_phone = StringField(
        _l("联系电话"),
        validators=[Optional(), Length(max=40)],
        render_kw={"inputmode": "tel", "autocomplete": "tel"},
    )
    contact_email = StringField(
        _l("电子邮箱"),
        validators=[Optional(), Length(max=200)],
        render_kw={"inputmode": "email", "autocomplete": "email"},
    )
    consent_to_share = BooleanField(_l("同意向承办的服务机构提供需求内容和联系方式"))


class RevisitForm(FlaskForm):
    rating = RadioField(
        _l("满意度"),
        choices=options(RATINGS),
        validators=[DataRequired()],
    )
    comment = TextAreaField(
        _l("意见建议"), validators=[Optional(), Length(max=2000)], render_kw={"rows": 3}
    )


class ConsentForm(FlaskForm):
    consent_to_share = BooleanField(_l("同意共享需求内容"))


def _catalogue() -> list[dict[str, Any]]:
    return list(g.api.get("/intake/api/v1/services")["categories"])


def _demand_form(catalogue: list[dict[str, Any]]) -> DemandForm:
    form = DemandForm()
    form.enterprise.choices = options((c, c) for c in g.person.get("credit_codes") or [])
    form.category.choices = options(choices("category"))
    form.service_item.choices = options([("", _("（不指定）"))]) + [
        option
        for cat in catalogue
        for option in options(
            ((i["code"], i["name"]) for i in cat.get("items") or []), group=cat["name"]
        )
    ]
    return form


@bp.get("/")
@requires(*ENTERPRISE)
def index() -> Any:
    status = request.args.get("status") or None
    page = g.api.get("/intake/api/v1/demands", status=status, limit=100)
    return render_template("hall/index.html", demands=page["items"], status=status)


@bp.route("/demands/new", methods=["GET", "POST"])
@requires(*ENTERPRISE)
def file() -> Any:
    catalogue = _catalogue()
    form = _demand_form(catalogue)
    if request.method == "GET" and request.args.get("item"):
        form.service_item.data = request.args["item"]
        for cat in catalogue:
            if any(i["code"] == request.args["item"] for i in cat.get("items") or []):
                form.category.data = cat["code"]
    if form.validate_on_submit():
        contact = {
            k: v
            for k, v in (
                ("name", form.contact_name.data),
                ("phone", form.contact_phone.data),
                ("email", form.contact_email.data),
            )
            if v
        }
        body: dict[str, Any] = {
            "enterprise": {"credit_code": form.enterprise.data},
            "category": form.category.data,
            "title": form.title.data,
            "description": form.description.data,
            "source": "order" if request.args.get("item") else "online",
            "consent_to_share": bool(form.consent_to_share.data),
        }
        if request.args.get("agency"):  # 企业点单 naming an agency (dispatch checks it)
            body["ordered_agency"] = request.args["agency"]
        if form.service_item.data:
            body["service_item"] = form.service_item.data
        if contact:
            body["contact"] = contact
        try:
            demand = g.api.post("/intake/api/v1/demands", body)
        except Refused as exc:
            show_refusal(
                form,
                exc,
                {
                    "enterprise.credit_code": "enterprise",
                    "contact.name": "contact_name",
                    "contact.phone": "contact_phone",
                    "contact.email": "contact_email",
                },
            )
        else:
            flash(_("需求已受理，编号 %(code)s。", code=demand["code"]))
            return redirect(url_for("hall.demand", code=demand["code"]))
    status = 422 if form.errors or form.form_errors else 200
    return render_template("hall/file.html", form=form, catalogue=catalogue), status


def _load(code: str) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    try:
        demand = g.api.get(f"/intake/api/v1/demands/{code}")
        updates = g.api.get(f"/intake/api/v1/demands/{code}/updates")["items"]
    except Refused as exc:
        abort(exc.status if exc.status in (403, 404) else 400)
    return demand, updates


@bp.get("/demands/<code>")
@requires(*ENTERPRISE)
def demand(code: str) -> Any:
    demand, updates = _load(code)
    consent = ConsentForm(consent_to_share=demand["consent_to_share"])
    return render_template(
        "hall/demand.html", demand=demand, updates=updates, revisit=RevisitForm(), consent=consent
    )


@bp.post("/demands/<code>/revisit")
@requires(*ENTERPRISE)
def revisit(code: str) -> Any:
    form = RevisitForm()
    if form.validate_on_submit():
        try:
            g.api.post(
                f"/intake/api/v1/demands/{code}/revisit",
                {"rating": int(form.rating.data), "comment": form.comment.data or ""},
            )
        except Refused as exc:
            show_refusal(form, exc)
        else:
            flash(_("感谢您的评价。"))
            return redirect(url_for("hall.demand", code=code))
    demand, updates = _load(code)
    consent = ConsentForm(consent_to_share=demand["consent_to_share"])
    page = render_template(
        "hall/demand.html", demand=demand, updates=updates, revisit=form, consent=consent
    )
    return page, 422


@bp.post("/demands/<code>/consent")
@requires(*ENTERPRISE)
def consent(code: str) -> Any:
    form = ConsentForm()
    if form.validate_on_submit():
        try:
            g.api.put(
                f"/intake/api/v1/demands/{code}/consent",
                {"consent_to_share": bool(form.consent_to_share.data)},
            )
        except Refused as exc:
            flash(exc.message, "error")
        else:
            flash(_("已同意共享。") if form.consent_to_share.data else _("已撤回共享同意。"))
    return redirect(url_for("hall.demand", code=code))
