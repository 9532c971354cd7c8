"""系统管理 (to be built)."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, render_template
from flask_babel import lazy_gettext as _l

from services.console.nav import ADMINS, link, requires

bp = Blueprint("admin", __name__, url_prefix="/admin")
link("admin.index", _l("系统管理"), ADMINS)


@bp.get("/")
@requires(*ADMINS)
def index() -> Any:
    return render_template("admin/index.html")
