"""我的工作台: the office staff's workbench (office_staff, commissioner).

The board of my demands (overdue and due today first, each with its countdown), a demand's
page (facts, timeline, the dispatch decision and its explanation, the agency order, the
archive trace with its chain hashes) and the loop's actions on it: screen, move, close
with a resolution, record the revisit. Visits, plans, the service ledger and the scorecard
are in ``work_desk`` (the same blueprint).

Everything shown is what the services answer with the person's token; the moves offered
follow the demand's loop (``services/intake/lifecycle.py``) only as a presentation — the
intake service decides, and its 409/422 message is shown next to the form.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from flask import Blueprint, abort, flash, g, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import RadioField, SelectField, TextAreaField
from wtforms.validators import DataRequired, Length, Optional

from services.console.client import Refused
from services.console.forms import RATINGS, options, show_refusal
from services.console.labels import choices, label, register
from services.console.nav import OFFICE, link, requires
from shared.timezone import CHINA

bp = Blueprint("work", __name__, url_prefix="/work")
link("work.board", _l("我的工作台"), OFFICE)

register(
    "work_urgency",
    {"low": _l("不急"), "normal": _l("一般"), "high": _l("较急"), "urgent": _l("紧急")},
)
register("work_feasibility", {"low": _l("低"), "medium": _l("中"), "high": _l("高")})
register(
    "work_decision",
    {
        "ordered": _l("企业点单"),
        "rotation": _l("轮流派单"),
        "cap_override": _l("超上限派单"),
        "no_agency": _l("无可派机构"),
        "blacklisted": _l("企业在黑名单"),
    },
)
register(
    "work_assignee",
    {"department": _l("责任部门"), "staff": _l("责任人"), "agency": _l("服务机构")},
)

STATUSES = ("accepted", "in_progress", "feedback", "follow_up", "closed", "rejected")
FINAL = ("closed", "rejected")
# The loop's moves as the intake service documents them (presentation only: it decides).
MOVES: dict[str, tuple[str, ...]] = {
    "accepted": ("in_progress", "rejected"),
    "in_progress": ("feedback",),
    "feedback": ("follow_up", "closed"),
    "follow_up": ("in_progress", "feedback", "closed"),
    "closed": ("follow_up",),
    "rejected": (),
}


# --- forms ---------------------------------------------------------------------------------


class ScreeningForm(FlaskForm):
    complexity = SelectField(_l("复杂程度"), validators=[Optional()])
    urgency = SelectField(_l("紧急程度"), validators=[Optional()])
    feasibility = SelectField(_l("可行性"), validators=[Optional()])
    screen_note = TextAreaField(
        _l("筛选说明"), validators=[Optional(), Length(max=2000)], render_kw={"rows": 2}
    )


class MoveForm(FlaskForm):
    to = SelectField(_l("转入状态"), validators=[DataRequired()])
    move_note = TextAreaField(
        _l("办理说明"), validators=[Optional(), Length(max=2000)], render_kw={"rows": 2}
    )


class CloseForm(FlaskForm):
    resolution = RadioField(
        _l("办结结果"), choices=options(choices("resolution")), validators=[DataRequired()]
    )
    close_note = TextAreaField(
        _l("办结说明（无法解决时必填）"),
        validators=[Optional(), Length(max=2000)],
        render_kw={"rows": 2},
    )


class StaffRevisitForm(FlaskForm):
    rating = SelectField(
        _l("企业满意度"),
        choices=options([("", _l("请选择")), *RATINGS]),
        validators=[DataRequired()],
    )
    comment = TextAreaField(
        _l("回访记录"), validators=[Optional(), Length(max=2000)], render_kw={"rows": 2}
    )


def _blank(kind: str) -> list[Any]:
    return options([("", _("（不变）")), *choices(kind)])


def _forms(demand: dict[str, Any], **given: FlaskForm) -> dict[str, Any]:
    """The action forms of the demand's page (``given``: a refused one, with its errors)."""
    screen = given.get("screen") or ScreeningForm(
        formdata=None,
        complexity=demand.get("complexity") or "",
        urgency=demand.get("urgency") or "",
        feasibility=demand.get("feasibility") or "",
    )
    screen.complexity.choices = _blank("complexity")
    screen.urgency.choices = _blank("work_urgency")
    screen.feasibility.choices = _blank("work_feasibility")
    move = given.get("move") or MoveForm(formdata=None)
    moves = [m for m in MOVES.get(demand["status"], ()) if m != "closed"]
    move.to.choices = options((m, _label_status(m)) for m in moves)
    return {
        "screen": screen,
        "move": move,
        "close": given.get("close") or CloseForm(formdata=None),
        "revisit": given.get("revisit") or StaffRevisitForm(formdata=None),
        "can_move": bool(moves),
        "can_close": "closed" in MOVES.get(demand["status"], ()),
    }


def _label_status(code: str) -> Any:
    return label(code, "status")


# --- reading -------------------------------------------------------------------------------


def _or_refusal(read: Callable[[], Any]) -> tuple[Any, str | None]:
    """The answer, or None with the service's refusal (a part of the page it may not show)."""
    try:
        return read(), None
    except Refused as exc:
        return None, exc.message


def my_owners() -> set[str]:
    """The ids a demand's owner has when it is mine: my staff id and my department's."""
    staff_id = (g.person or {}).get("staff_id")
    if not staff_id:
        return set()
    owners = {staff_id}
    staff, _refused = _or_refusal(lambda: g.api.get("/dispatch/api/v1/staff"))
    for s in (staff or {}).get("items") or []:
        if s.get("id") == staff_id and s.get("department_id"):
            owners.add(s["department_id"])
    return owners


ENDED_SHOWN = 20  # the newest ended demands the board lists under its open ones
OPEN_SHOWN = 100  # the open demands the board lists of each kind (overdue, the others)


def _demands(status: str | None, owners: set[str] | None) -> tuple[list[dict[str, Any]], bool]:
    """The board's demands (``owners``: only theirs; none: the whole subtree): with a status,
    those (newest first); else the overdue ones and the other open ones, each the soonest
    deadline first, and the newest ended ones — and whether more were left out. The
    service filters and orders (``owner``, ``open``, ``overdue``, ``order=deadline``): a
    county's thousands of demands are never read for one page."""
    mine = {"owner": sorted(owners)} if owners else {}
    api = "/intake/api/v1/demands"
    if status:
        page = g.api.get(api, status=status, limit=200, **mine)
        return list(page["items"]), bool(page.get("next_cursor"))
    late = g.api.get(api, open="true", overdue="true", order="deadline", limit=OPEN_SHOWN, **mine)
    due = g.api.get(api, open="true", overdue="false", order="deadline", limit=OPEN_SHOWN, **mine)
    ended = g.api.get(api, open="false", limit=ENDED_SHOWN, **mine)
    items = [*late["items"], *due["items"], *ended["items"]]
    return items, bool(late.get("next_cursor") or due.get("next_cursor"))


def _parse(at: str | None) -> datetime | None:
    return datetime.fromisoformat(at) if at else None


def arrange(demands: list[dict[str, Any]], now: datetime) -> dict[str, list[dict[str, Any]]]:
    """The board's groups: overdue, due today (China time), the other open ones by their
    deadline, then the ended ones (newest first)."""
    today = now.astimezone(CHINA).date()
    groups: dict[str, list[dict[str, Any]]] = {"overdue": [], "today": [], "open": [], "ended": []}
    for d in demands:
        due = _parse(d.get("expected_datetime"))
        if d["status"] in FINAL:
            groups["ended"].append(d)
        elif due is not None and due < now:
            groups["overdue"].append(d)
        elif due is not None and due.astimezone(CHINA).date() == today:
            groups["today"].append(d)
        else:
            groups["open"].append(d)
    far = datetime.max.replace(tzinfo=UTC)
    for key in ("overdue", "today", "open"):
        groups[key].sort(key=lambda d: _parse(d.get("expected_datetime")) or far)
    return groups


# --- pages ---------------------------------------------------------------------------------


@bp.get("/")
@requires(*OFFICE)
def board() -> Any:
    status = request.args.get("status") or None
    if status not in (None, *STATUSES):
        status = None
    owners = my_owners()
    scope = request.args.get("scope") or ("mine" if owners else "unit")
    if scope not in ("mine", "unit") or not owners:
        scope = "unit"
    demands, truncated = _demands(status, owners if scope == "mine" else None)
    counts = {s: sum(1 for d in demands if d["status"] == s) for s in STATUSES}
    return render_template(
        "work/board.html",
        groups=arrange(demands, datetime.now(UTC)),
        counts=counts,
        total=len(demands),
        status=status,
        scope=scope,
        can_scope=bool(owners),
        truncated=truncated,
        statuses=STATUSES,
    )


def _dossier(code: str) -> dict[str, Any]:
    """Everything the demand's page shows, each part as its service answers (or refuses)."""
    try:
        demand = g.api.get(f"/intake/api/v1/demands/{code}")
        updates = g.api.get(f"/intake/api/v1/demands/{code}/updates")["items"]
    except Refused as exc:
        abort(exc.status if exc.status in (403, 404) else 400)
    listed, dispatch_refused = _or_refusal(
        lambda: g.api.get("/dispatch/api/v1/assignments", demand_code=code)
    )
    assignments = []
    for a in (listed or {}).get("items") or []:
        path = f"/dispatch/api/v1/assignments/{a['id']}"
        detail, _refused = _or_refusal(functools.partial(g.api.get, path))
        assignments.append(detail or a)
    decisions, _refused = _or_refusal(
        lambda: g.api.get("/dispatch/api/v1/decisions", demand_code=code)
    )
    trace, trace_refused = _or_refusal(lambda: g.api.get(f"/archive/api/v1/trace/{code}"))
    return {
        "demand": demand,
        "updates": updates,
        "owners": [a for a in assignments if a.get("kind") == "owner"],
        "orders": [a for a in assignments if a.get("kind") == "agency"],
        "decisions": (decisions or {}).get("items") or [],
        "dispatch_refused": dispatch_refused,
        "trace": (trace or {}).get("events") or [],
        "trace_refused": trace_refused,
    }


def _page(code: str, status: int = 200, **given: FlaskForm) -> Any:
    dossier = _dossier(code)
    forms = _forms(dossier["demand"], **given)
    return render_template("work/demand.html", **dossier, **forms), status


@bp.get("/demands/<code>")
@requires(*OFFICE)
def demand(code: str) -> Any:
    return _page(code)


def _act(
    code: str,
    key: str,
    form: FlaskForm,
    send: Callable[[], Any],
    done: str,
    names: dict[str, str],
) -> Any:
    """Send the form's action; PRG with a message, or the page again with the refusal."""
    if form.validate_on_submit():
        try:
            send()
        except Refused as exc:
            show_refusal(form, exc, names)
            if exc.code != "validation_failed" and exc.message not in form.form_errors:
                form.form_errors.insert(0, exc.message)  # the service's why, over the form
        else:
            flash(done)
            return redirect(url_for("work.demand", code=code))
    return _page(code, 422, **{key: form})


@bp.post("/demands/<code>/screening")
@requires(*OFFICE)
def screen(code: str) -> Any:
    form = ScreeningForm()
    form.complexity.choices = _blank("complexity")
    form.urgency.choices = _blank("work_urgency")
    form.feasibility.choices = _blank("work_feasibility")

    def send() -> Any:
        body = {
            k: getattr(form, k).data
            for k in ("complexity", "urgency", "feasibility")
            if getattr(form, k).data
        }
        if form.screen_note.data:
            body["note"] = form.screen_note.data
        return g.api.patch(f"/intake/api/v1/demands/{code}/screening", body)

    return _act(code, "screen", form, send, _("已保存筛选结果。"), {"note": "screen_note"})


@bp.post("/demands/<code>/transitions")
@requires(*OFFICE)
def move(code: str) -> Any:
    form = MoveForm()
    # any target is sent as asked: the intake service says which ones its loop allows
    form.to.choices = options((s, _label_status(s)) for s in STATUSES)

    def send() -> Any:
        body = {"to": form.to.data, "note": form.move_note.data or ""}
        return g.api.post(f"/intake/api/v1/demands/{code}/transitions", body)

    return _act(code, "move", form, send, _("状态已更新。"), {"note": "move_note"})


@bp.post("/demands/<code>/close")
@requires(*OFFICE)
def close(code: str) -> Any:
    form = CloseForm()

    def send() -> Any:
        body = {
            "to": "closed",
            "resolution": form.resolution.data,
            "note": form.close_note.data or "",
        }
        return g.api.post(f"/intake/api/v1/demands/{code}/transitions", body)

    return _act(
        code, "close", form, send, _("需求已办结。"), {"note": "close_note", "to": "resolution"}
    )


@bp.post("/demands/<code>/revisit")
@requires(*OFFICE)
def revisit(code: str) -> Any:
    form = StaffRevisitForm()

    def send() -> Any:
        body = {"rating": int(form.rating.data), "comment": form.comment.data or ""}
        return g.api.post(f"/intake/api/v1/demands/{code}/revisit", body)

    return _act(code, "revisit", form, send, _("已记录回访。"), {})


from services.console import work_desk  # noqa: E402,F401 — its pages are on this blueprint
