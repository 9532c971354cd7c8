"""The leader's cockpit (驾驶舱): a jurisdiction's KPIs with charts (closure, on-time,
problem-solving, satisfaction, station coverage, the SX targets, each against the target
scoring gives), the rankings of its departments and staff, the time-limit breaches of its
subtree, visit compliance by rule, and the daily board (日调度) — with the XLSX downloads.

Every figure is the services' own (scoring, dispatch, visits, intake): the console only
turns a chosen day and granularity into scoring's period notation and draws what comes
back. Charts are ECharts options in ``<script type="application/json" data-chart>`` blocks
(drawn by ``static/console.js``), each with the same figures in a table."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date
from typing import Any

from flask import Blueprint, Response, abort, g, render_template, request
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import DateField, SelectField
from wtforms.validators import Optional

from services.console.client import Refused
from services.console.downloads import passthrough
from services.console.forms import options
from services.console.labels import register
from services.console.nav import LEADER, link, requires
from shared.timezone import china_today

bp = Blueprint("cockpit", __name__, url_prefix="/cockpit")
link("cockpit.index", _l("驾驶舱"), LEADER)
link("cockpit.rankings", _l("考核排名"), LEADER)
link("cockpit.breaches", _l("超时预警"), LEADER)
link("cockpit.compliance", _l("走访达标"), LEADER)
link("cockpit.board", _l("日调度"), LEADER)

GRAINS = (
    ("month", _l("月")),
    ("quarter", _l("季度")),
    ("year", _l("年")),
    ("week", _l("周")),
    ("day", _l("日")),
)
# visits' compliance has no year: its rules are weekly, monthly and quarterly
COMPLIANCE_GRAINS = tuple(g for g in GRAINS if g[0] != "year")

register("grain", dict(GRAINS))
register(
    "breach",
    {"warning": _l("临期预警"), "overdue": _l("超期"), "unanswered": _l("未按时响应")},
)
register(
    "compliance",
    {"met": _l("已达标"), "open": _l("进行中"), "short": _l("未达标")},
)
register(
    "rule",
    {
        "department_weekly": _l("包保部室每周走访"),
        "station_duty": _l("驻点人员每周在岗"),
        "team_city_monthly": _l("服务专班每月赴联系城市"),
        "team_key_quarterly": _l("服务专班每季度走访重点企业"),
        "leader_quarterly": _l("部门领导每季度走访挂钩企业"),
    },
)
register(
    "subject",
    {
        "department": _l("包保责任部室"),
        "team": _l("服务专班"),
        "team_key_enterprise": _l("专班联系重点企业"),
        "leader": _l("部门领导"),
        "station_staff": _l("驻点人员"),
    },
)
register(
    "section",
    {
        "new": _l("当日新增"),
        "due_today": _l("当日到期"),
        "overdue": _l("已超期"),
        "escalated": _l("已上报领导"),
        "awaiting_response": _l("待首次响应"),
    },
)


def period_of(grain: str, day: date) -> str:
    """The day's period of that granularity, in scoring's notation."""
    if grain == "day":
        return day.isoformat()
    if grain == "week":
        year, week, _weekday = day.isocalendar()
        return f"{year}-W{week:02d}"
    if grain == "quarter":
        return f"{day.year}-Q{(day.month - 1) // 3 + 1}"
    if grain == "year":
        return str(day.year)
    return day.strftime("%Y-%m")


def months_back(day: date, n: int) -> list[str]:
    """The ``n`` months up to ``day``'s, oldest first (YYYY-MM)."""
    out = []
    y, m = day.year, day.month
    for _i in range(n):
        out.append(f"{y:04d}-{m:02d}")
        y, m = (y, m - 1) if m > 1 else (y - 1, 12)
    return out[::-1]


class Filter(FlaskForm):
    """Which jurisdiction and which period (a GET form: nothing is changed, no CSRF)."""

    class Meta:
        csrf = False

    unit = SelectField(_l("辖区"))
    grain = SelectField(_l("统计周期"), choices=options(GRAINS))
    on = DateField(_l("日期"), validators=[Optional()])


def _units() -> list[tuple[str, str]]:
    """The person's unit and the units right below it (the directory's tree is public)."""
    mine = g.person["unit"]
    try:
        unit = g.api.get(f"/directory/api/v1/units/{mine}")
    except Refused:
        return [(mine, mine)]
    children = [c for c in unit.get("children") or [] if not c.get("retired")]
    return [(mine, unit.get("name") or mine)] + [
        (c["code"], f"　{c.get('name') or c['code']}") for c in children
    ]


def _filter(
    grains: tuple[tuple[str, Any], ...] = GRAINS, default: str = "month"
) -> tuple[Filter, str, date, str]:
    """The form as asked, its unit, day and period (defaults where it is empty or wrong)."""
    form = Filter(request.args)
    form.grain.choices = options(grains)
    units = _units()
    form.unit.choices = options(units)
    known = {code for code, _name in units}
    unit = request.args.get("unit") or g.person["unit"]
    if unit not in known:
        form.unit.choices = options([*units, (unit, unit)])
    form.unit.data = unit
    if form.grain.data not in {code for code, _label in grains}:
        form.grain.data = default
    day = form.on.data if form.validate() and form.on.data else china_today()
    form.on.data = day
    return form, unit, day, period_of(form.grain.data, day)


def _ask(path: str, **params: Any) -> tuple[Any, Refused | None]:
    """A service's answer, or its refusal to show on the page (a wrong period, a unit
    outside the person's subtree)."""
    try:
        return g.api.get(path, **params), None
    except Refused as exc:
        return None, exc


def _download(path: str, **params: Any) -> Response:
    """A service's XLSX as it came (its type and file name)."""
    try:
        return passthrough(path, **params, format="xlsx")
    except Refused as exc:
        abort(exc.status if exc.status in (403, 404) else 400)


# --- KPIs ------------------------------------------------------------------------------------
def _pct(value: Any) -> float | None:
    return None if value is None else round(float(value) * 100, 1)


def kpi_rows(kpis: Mapping[str, Any]) -> list[dict[str, Any]]:
    """The figures as table rows: indicator, value, target (where scoring gives one), basis
    and the unit the value is read in ("%", "×" or a count)."""
    d, cov, sx = kpis["demands"], kpis["station_coverage"], kpis["sx_targets"]
    return [
        {
            "key": "closure",
            "name": _("办结率"),
            "value": _pct(d["closure_rate"]),
            "target": None,
            "unit": "%",
            "basis": _("受理 %(a)s 件，办结 %(c)s 件", a=d["accepted"], c=d["closed"]),
        },
        {
            "key": "on_time",
            "name": _("按时办结率"),
            "value": _pct(d["on_time_rate"]),
            "target": None,
            "unit": "%",
            "basis": _("办结 %(c)s 件", c=d["closed"]),
        },
        {
            "key": "solving",
            "name": _("问题解决率"),
            "value": _pct(d["problem_solving_rate"]),
            "target": None,
            "unit": "%",
            "basis": _("已解决 %(s)s 件", s=d["solved"]),
        },
        {
            "key": "satisfaction",
            "name": _("企业满意度（1–5）"),
            "value": d["satisfaction"],
            "target": None,
            "unit": "",
            "basis": _("%(n)s 次评价", n=d["ratings"]),
        },
        {
            "key": "tech_sme_coverage",
            "name": _("科技型中小企业服务覆盖率"),
            "value": _pct(cov["tech_sme_coverage"]),
            "target": _pct(cov["tech_sme_target"]),
            "unit": "%",
            "basis": _("%(s)s / %(n)s 家", s=cov["tech_smes_served"], n=cov["tech_smes"]),
        },
        {
            "key": "hitech_candidate_coverage",
            "name": _("高企后备企业服务覆盖率"),
            "value": _pct(cov["hitech_candidate_coverage"]),
            "target": _pct(cov["hitech_candidate_target"]),
            "unit": "%",
            "basis": _(
                "%(s)s / %(n)s 家",
                s=cov["hitech_candidates_served"],
                n=cov["hitech_candidates"],
            ),
        },
        {
            "key": "incubated_share",
            "name": _("新认定高企中服务培育占比"),
            "value": _pct(cov["incubated_share"]),
            "target": _pct(cov["incubated_target"]),
            "unit": "%",
            "basis": _("%(s)s / %(n)s 家", s=cov["incubated"], n=cov["newly_certified_hitech"]),
        },
        {
            "key": "hitech_vs_base",
            "name": _("高新技术企业数较基准年倍数"),
            "value": sx["hitech_vs_base"],
            "target": sx["doubling_target"],
            "unit": "×",
            "basis": _(
                "%(n)s 家（%(y)s 年 %(b)s 家）",
                n=sx["hitech_enterprises"],
                y=sx["base_year"],
                b=sx["base_hitech_enterprises"]
                if sx["base_hitech_enterprises"] is not None
                else "—",
            ),
        },
        {
            "key": "hitech_growth",
            "name": _("高新技术企业年增长率"),
            "value": _pct(sx["hitech_growth"]),
            "target": _pct(sx["growth_target"]),
            "unit": "%",
            "basis": _("%(n)s 家", n=sx["hitech_enterprises"]),
        },
        {
            "key": "tech_smes_vs_base",
            "name": _("科技型中小企业数较基准年倍数"),
            "value": sx["tech_smes_vs_base"],
            "target": sx["doubling_target"],
            "unit": "×",
            "basis": _(
                "%(n)s 家（%(y)s 年 %(b)s 家）",
                n=sx["tech_smes"],
                y=sx["base_year"],
                b=sx["base_tech_smes"] if sx["base_tech_smes"] is not None else "—",
            ),
        },
        {
            "key": "tech_sme_growth",
            "name": _("科技型中小企业年增长率"),
            "value": _pct(sx["tech_sme_growth"]),
            "target": _pct(sx["growth_target"]),
            "unit": "%",
            "basis": _("%(n)s 家", n=sx["tech_smes"]),
        },
        {
            "key": "needs_named_person",
            "name": _("尚无包保责任人的企业（两清零）"),
            "value": sx["needs_named_person"],
            "target": 0,
            "unit": "",
            "basis": "",
        },
        {
            "key": "needs_one_plan",
            "name": _("尚无“一企一策”的企业（两清零）"),
            "value": sx["needs_one_plan"],
            "target": 0,
            "unit": "",
            "basis": "",
        },
    ]


def _bars(rows: list[dict[str, Any]], *, max_value: float | None = None) -> dict[str, Any]:
    """An ECharts option: horizontal bars, the value beside its target (when one is given)."""
    names = [r["name"] for r in rows]
    series: list[dict[str, Any]] = [
        {
            "name": _("实际"),
            "type": "bar",
            "data": [r["value"] for r in rows],
            "label": {"show": True, "position": "right"},
        }
    ]
    if any(r["target"] is not None for r in rows):
        series.append(
            {
                "name": _("目标"),
                "type": "bar",
                "data": [r["target"] for r in rows],
                "label": {"show": True, "position": "right"},
            }
        )
    axis: dict[str, Any] = {"type": "value"}
    if max_value is not None:
        axis["max"] = max_value
    return {
        "aria": {"enabled": True},
        "tooltip": {"trigger": "axis"},
        "legend": {"top": 0},
        "grid": {"left": 8, "right": 48, "top": 32, "bottom": 8, "containLabel": True},
        "xAxis": axis,
        "yAxis": {"type": "category", "data": names, "inverse": True},
        "series": series,
    }


def kpi_charts(rows: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    by = {r["key"]: r for r in rows}

    def pick(*keys: str) -> list[dict[str, Any]]:
        return [by[k] for k in keys]

    return {
        "chart-rates": _bars(pick("closure", "on_time", "solving"), max_value=100),
        "chart-satisfaction": _bars(pick("satisfaction"), max_value=5),
        "chart-coverage": _bars(
            pick("tech_sme_coverage", "hitech_candidate_coverage", "incubated_share"),
            max_value=100,
        ),
        "chart-sx": _bars(
            pick("hitech_vs_base", "tech_smes_vs_base", "hitech_growth", "tech_sme_growth")
        ),
    }


@bp.get("/")
@requires(*LEADER)
def index() -> Any:
    form, unit, day, period = _filter()
    kpis, refused = _ask("/scoring/api/v1/kpis", jurisdiction=unit, period=period)
    rows = kpi_rows(kpis) if kpis else []
    return render_template(
        "cockpit/index.html",
        form=form,
        unit=unit,
        day=day,
        period=period,
        rows=rows,
        charts=kpi_charts(rows) if rows else {},
        refused=refused,
    ), (200 if kpis else 422)


@bp.get("/trend")
@requires(*LEADER)
def trend() -> Any:
    """The last six months' closure and on-time rates (loaded into the KPI page by htmx)."""
    _form, unit, day, _period = _filter()
    points = []
    for month in months_back(day, 6):
        kpis, refused = _ask("/scoring/api/v1/kpis", jurisdiction=unit, period=month)
        if refused:
            return render_template("cockpit/_trend_body.html", refused=refused, points=[]), 422
        d = kpis["demands"]
        points.append(
            {
                "month": month,
                "accepted": d["accepted"],
                "closure": _pct(d["closure_rate"]),
                "on_time": _pct(d["on_time_rate"]),
            }
        )
    chart = {
        "aria": {"enabled": True},
        "tooltip": {"trigger": "axis"},
        "legend": {"top": 0},
        "grid": {"left": 8, "right": 24, "top": 32, "bottom": 8, "containLabel": True},
        "xAxis": {"type": "category", "data": [p["month"] for p in points]},
        "yAxis": {"type": "value", "max": 100},
        "series": [
            {"name": _("办结率"), "type": "line", "data": [p["closure"] for p in points]},
            {"name": _("按时办结率"), "type": "line", "data": [p["on_time"] for p in points]},
        ],
    }
    page = "cockpit/_trend_body.html" if request.headers.get("HX-Request") else "cockpit/trend.html"
    return render_template(page, points=points, trend_chart=chart, refused=None)


# --- rankings --------------------------------------------------------------------------------
@bp.get("/rankings")
@requires(*LEADER)
def rankings() -> Any:
    form, unit, _day, period = _filter()
    unit_type = "staff" if request.args.get("unit_type") == "staff" else "department"
    params = {"jurisdiction": unit, "period": period, "unit_type": unit_type}
    if request.args.get("format") == "xlsx":
        return _download("/scoring/api/v1/rankings", **params)
    answer, refused = _ask("/scoring/api/v1/rankings", **params)
    items = (answer or {}).get("items") or []
    chart = None
    if items:
        top = items[:15]
        chart = {
            "aria": {"enabled": True},
            "tooltip": {"trigger": "axis"},
            "grid": {"left": 8, "right": 48, "top": 8, "bottom": 8, "containLabel": True},
            "xAxis": {"type": "value"},
            "yAxis": {
                "type": "category",
                "inverse": True,
                "data": [i["unit"].get("name") or i["unit"]["id"] for i in top],
            },
            "series": [
                {
                    "name": _("总分"),
                    "type": "bar",
                    "data": [i["total"] for i in top],
                    "label": {"show": True, "position": "right"},
                }
            ],
        }
    return render_template(
        "cockpit/rankings.html",
        form=form,
        unit=unit,
        period=period,
        unit_type=unit_type,
        items=items,
        ranking_chart=chart,
        refused=refused,
    ), (422 if refused else 200)


# --- breaches --------------------------------------------------------------------------------
@bp.get("/breaches")
@requires(*LEADER)
def breaches() -> Any:
    level = request.args.get("level") or ""
    answer = g.api.get("/dispatch/api/v1/breaches", limit=500)
    items = answer.get("items") or []
    if level:
        items = [b for b in items if b.get("level") == level]
    mine = g.person.get("staff_id")
    escalated_only = request.args.get("escalated") == "1"
    if escalated_only:
        items = [b for b in items if b.get("escalated_to")]
    # a leader who leads a department (bound to their staff record) sees first what was
    # escalated to them; ``to=all``: every breach of the subtree
    to_me = bool(mine) and request.args.get("to") != "all"
    if to_me:
        items = [b for b in items if b.get("escalated_to") == mine]
    counts: dict[str, int] = {}
    for b in answer.get("items") or []:
        counts[b.get("level") or ""] = counts.get(b.get("level") or "", 0) + 1
    return render_template(
        "cockpit/breaches.html",
        items=items,
        level=level,
        counts=counts,
        mine=mine,
        to_me=to_me,
        escalated_only=escalated_only,
    )


# --- visit compliance ------------------------------------------------------------------------
@bp.get("/compliance")
@requires(*LEADER)
def compliance() -> Any:
    form, unit, _day, period = _filter(COMPLIANCE_GRAINS, default="week")
    answer, refused = _ask("/visits/api/v1/compliance", jurisdiction=unit, period=period)
    items = (answer or {}).get("items") or []
    by_rule: dict[str, dict[str, Any]] = {}
    for i in items:
        rule = by_rule.setdefault(
            i["rule"], {"rule": i["rule"], "source": i.get("source"), "met": 0, "items": []}
        )
        rule["items"].append(i)
        rule["met"] += 1 if i.get("status") == "met" else 0
    return render_template(
        "cockpit/compliance.html",
        form=form,
        unit=unit,
        period=period,
        rules=list(by_rule.values()),
        answer=answer or {},
        refused=refused,
    ), (422 if refused else 200)


# --- the daily board -------------------------------------------------------------------------
SECTIONS = ("overdue", "due_today", "escalated", "awaiting_response", "new")


@bp.get("/board")
@requires(*LEADER)
def board() -> Any:
    form, unit, day, _period = _filter()
    path = f"/intake/api/v1/board/{unit}"
    if request.args.get("format") == "xlsx":
        return _download(path, date=day.isoformat())
    answer, refused = _ask(path, date=day.isoformat())
    return render_template(
        "cockpit/board.html",
        form=form,
        unit=unit,
        day=day,
        board=answer or {},
        sections=SECTIONS,
        refused=refused,
    ), (422 if refused else 200)
