"""我的工作台 (to be built)."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, render_template
from flask_babel import lazy_gettext as _l

from services.console.nav import OFFICE, link, requires

bp = Blueprint("work", __name__, url_prefix="/work")
link("work.board", _l("我的工作台"), OFFICE)


@bp.get("/")
@requires(*OFFICE)
def board() -> Any:
    return render_template("work/board.html")
