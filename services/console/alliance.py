"""服务联盟 (to be built)."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, render_template
from flask_babel import lazy_gettext as _l

from services.console.nav import AGENCY, STATION, link, requires

bp = Blueprint("alliance", __name__, url_prefix="/alliance")
link("alliance.station", _l("服务联盟"), STATION)


@bp.get("/")
@requires(*STATION)
def station() -> Any:
    return render_template("alliance/station.html")


@bp.get("/orders")
@requires(*AGENCY)
def orders() -> Any:
    return render_template("alliance/orders.html")
