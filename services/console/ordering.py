"""企业点单: an enterprise orders a service from the catalogue, with the member agencies of
its alliance that offer it (dispatch's public list of who serves what); ordering leads to
the hall's filing form with the item, and the agency when one is named."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, g, render_template
from flask_babel import lazy_gettext as _l

from services.console.nav import ENTERPRISE, link, requires

bp = Blueprint("ordering", __name__)
link("ordering.index", _l("企业点单"), ENTERPRISE)


@bp.get("/hall/order")
@requires(*ENTERPRISE)
def index() -> Any:
    catalogue = g.api.get("/intake/api/v1/services")["categories"]
    offers = g.api.get(f"/dispatch/api/v1/alliances/{g.person['unit']}/offers")
    by_category: dict[str, list[dict[str, Any]]] = {}
    for agency in offers["items"]:
        by_category.setdefault(agency["category"], []).append(agency)
    return render_template(
        "ordering/index.html", catalogue=catalogue, agencies=by_category, city=offers["city"]
    )
