"""驾驶舱 (to be built)."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, render_template
from flask_babel import lazy_gettext as _l

from services.console.nav import LEADER, link, requires

bp = Blueprint("cockpit", __name__, url_prefix="/cockpit")
link("cockpit.index", _l("驾驶舱"), LEADER)


@bp.get("/")
@requires(*LEADER)
def index() -> Any:
    return render_template("cockpit/index.html")
