"""Signing in and out (the directory's sessions), the start page and the language."""

from __future__ import annotations

import contextlib
from typing import Any

from flask import Blueprint, current_app, g, redirect, render_template, request, session, url_for
from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import PasswordField, StringField
from wtforms.validators import DataRequired, Length, Optional

from services.console.client import Api, Refused, ServiceDown, SignedOut, keep
from services.console.forms import show_refusal
from services.console.nav import home_for, requires

bp = Blueprint("auth", __name__)


class SignInForm(FlaskForm):
    username = StringField(_l("登录名"), validators=[DataRequired(), Length(max=100)])
    password = PasswordField(_l("密码"), validators=[DataRequired(), Length(max=200)])
    totp = StringField(
        _l("动态验证码（管理员）"),
        validators=[Optional(), Length(max=10)],
        render_kw={"inputmode": "numeric", "autocomplete": "one-time-code"},
    )


def _safe_next(target: str | None) -> str | None:
    """Only a path of this site (never another origin)."""
    if target and target.startswith("/") and not target.startswith("//") and "\\" not in target:
        return target
    return None


@bp.get("/")
def index() -> Any:
    if not g.person:
        return redirect(url_for("auth.sign_in"))
    return redirect(home_for(g.person))


@bp.route("/sign-in", methods=["GET", "POST"])
def sign_in() -> Any:
    form = SignInForm()
    if form.validate_on_submit():
        body = {"username": form.username.data, "password": form.password.data}
        if form.totp.data:
            body["totp"] = form.totp.data.strip()
        anonymous = Api(
            current_app.extensions["console"]["http"], None, correlation_id=g.correlation_id
        )
        try:
            answer = anonymous.post("/directory/api/v1/sessions", body)
        except Refused as exc:
            show_refusal(
                form, exc, {"totp": "totp", "username": "username", "password": "password"}
            )
        else:
            session.clear()
            tokens: dict[str, Any] = {}
            keep(tokens, answer)
            session["tokens"] = tokens
            person = answer["person"]
            session["person"] = {
                "id": person["person_id"],
                "name": person["name"],
                "unit": person["unit"],
                "roles": person["roles"],
                "agency_id": person.get("agency_id"),
                "staff_id": person.get("staff_id"),
                "credit_codes": person.get("credit_codes") or [],
                "password_change_due": answer.get("password_change_due", False),
            }
            return redirect(_safe_next(request.args.get("next")) or home_for(session["person"]))
    return render_template("sign_in.html", form=form), (422 if form.errors else 200)


@bp.post("/sign-out")
def sign_out() -> Any:
    tokens = session.get("tokens") or {}
    if tokens.get("session_id"):
        # signing out here is enough: the directory's session also ends when idle
        with contextlib.suppress(Refused, ServiceDown, SignedOut):
            g.api.delete(f"/directory/api/v1/sessions/{tokens['session_id']}")
    session.clear()
    return redirect(url_for("auth.sign_in"))


@bp.get("/account")
@requires()
def account() -> Any:
    me = g.api.get("/directory/api/v1/me")
    return render_template("account.html", me=me)


@bp.post("/language")
def language() -> Any:
    chosen = request.form.get("lang")
    session["lang"] = chosen if chosen in ("zh_CN", "en") else "zh_CN"
    return redirect(_safe_next(request.form.get("next")) or url_for("auth.index"))
