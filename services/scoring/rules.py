"""The assessment table as data (XN 附录A 表A.1) and its evaluation, point by point.

Pure Python: no Flask, SQLAlchemy or kombu. A rule set is a JSON document of parts
and items; each item has a *kind* that says how its inputs become points:

* ``rating``   — a supervisor's rating, 0..max (several in a period: their average);
* ``threshold`` — ``clamp(n − floor, 0, cap)``: ≥ floor + cap → cap, each one fewer −1,
  floor or fewer → 0 (the visits item: ≥ 30 → 15, < 15 → 0);
* ``share``    — ``cap × on_time / closed`` (a supervisor's override wins when given);
* ``average``  — a 1..5 average mapped linearly to 0..cap (enterprise satisfaction);
* ``weighted`` — Σ weight × count, at most cap (applications, demands, research).

The default reproduces table A.1 literally, including its inconsistency: the
satisfaction part is declared 20 % but its item gives at most 10, so the literal
maximum is 90 + 10 bonus = 100 (recorded as a note, not an error).
"""

from __future__ import annotations

import copy
import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

KINDS = ("rating", "threshold", "share", "average", "weighted")

DEFAULT_RULE_SET: dict[str, Any] = {
    "name": "XN 附录A 表A.1 服务人员考核评价表",
    # KPI targets (CX 第十二条 station coverage; SX growth) and the SX base year's counts,
    # which a jurisdiction fills in (the seeds give no counts).
    "targets": {
        "tech_sme_coverage": 0.15,
        "hitech_candidate_coverage": 0.75,
        "station_incubated_share": 0.3333,
        "annual_growth": 0.2,
        "base_year": 2021,
        "base_tech_smes": None,
        "base_hitech_enterprises": None,
    },
    "parts": [
        {
            "part": "conduct",
            "title": "品德表现",
            "points": 10,
            "items": [
                {
                    "item": "integrity",
                    "title": "廉洁",
                    "kind": "rating",
                    "input": "integrity_rating",
                    "max": 5,
                    "cap": 5,
                },
                {
                    "item": "attitude",
                    "title": "态度",
                    "kind": "rating",
                    "input": "attitude_rating",
                    "max": 5,
                    "cap": 5,
                },
            ],
        },
        {
            "part": "service",
            "title": "服务次数与效率",
            "points": 30,
            "items": [
                {
                    "item": "visits",
                    "title": "服务次数",
                    "kind": "threshold",
                    "input": "visits",
                    "floor": 15,
                    "cap": 15,
                    "per_months": 12,  # ≥ 30 visits a year; shorter periods pro rata
                },
                {
                    "item": "efficiency",
                    "title": "服务效率",
                    "kind": "share",
                    "numerator": "closed_on_time",
                    "denominator": "closed",
                    "override": "efficiency_override",
                    "cap": 15,
                },
            ],
        },
        {
            "part": "satisfaction",
            "title": "企业满意度",
            "points": 20,
            "items": [
                {
                    "item": "satisfaction",
                    "title": "企业满意度",
                    "kind": "average",
                    "input": "satisfaction",
                    "scale": [1, 5],
                    "cap": 10,
                },
            ],
        },
        {
            "part": "applications",
            "title": "创新主体和平台申报",
            "points": 10,
            "items": [
                {
                    "item": "applications",
                    "title": "协助申报",
                    "kind": "weighted",
                    "weights": {"assisted_application": 10, "successful_application": 5},
                    "cap": 10,
                },
            ],
        },
        {
            "part": "solving",
            "title": "解决需求",
            "points": 30,
            "items": [
                {
                    "item": "general_demands",
                    "title": "一般需求",
                    "kind": "weighted",
                    "weights": {"general_solved": 1},
                    "cap": 10,
                },
                {
                    "item": "technology_demands",
                    "title": "技术需求",
                    "kind": "weighted",
                    "weights": {
                        "tech_collected": 1,
                        "tech_analysed": 2,
                        "tech_published": 3,
                        "tech_matched": 10,
                        "tech_solved": 20,
                    },
                    "cap": 20,
                },
            ],
        },
        {
            "part": "research",
            "title": "科研辅助（加分项）",
            "points": 10,
            "bonus": True,
            "items": [
                {
                    "item": "research",
                    "title": "科研辅助",
                    "kind": "weighted",
                    "weights": {
                        "paper": 2,
                        "project": 5,
                        "achievement": 2,
                        "invention_patent": 5,
                        "utility_patent": 2,
                        "standard": 3,
                    },
                    "cap": 10,
                },
            ],
        },
    ],
}

# Inputs a rule set may name, and what they are (the evaluate API documents them).
COUNT_INPUTS = (
    "visits",
    "closed",
    "closed_on_time",
    "assisted_application",
    "successful_application",
    "general_solved",
    "tech_collected",
    "tech_analysed",
    "tech_published",
    "tech_matched",
    "tech_solved",
    "paper",
    "project",
    "achievement",
    "invention_patent",
    "utility_patent",
    "standard",
)
RATING_INPUTS = {"integrity_rating": (0, 5), "attitude_rating": (0, 5), "satisfaction": (1, 5)}
OVERRIDE_INPUTS = {"efficiency_override": (0, 15)}


class RuleSetError(ValueError):
    def __init__(self, problems: dict[str, str]) -> None:
        super().__init__("; ".join(f"{k}: {v}" for k, v in problems.items()))
        self.problems = problems


MAX_NUMBER = 1_000_000


def _num(x: Any) -> bool:
    """A finite number of sensible size (not a bool, NaN, infinity or a 400-digit int)."""
    if isinstance(x, bool) or not isinstance(x, int | float):
        return False
    try:
        return math.isfinite(x) and abs(x) <= MAX_NUMBER
    except OverflowError:
        return False


def validate(body: Mapping[str, Any]) -> list[str]:
    """Raise ``RuleSetError`` naming each inconsistency; return notes on what is allowed
    but odd (a part declaring more points than its items can give, as table A.1 does)."""
    problems: dict[str, str] = {}
    notes: list[str] = []
    parts = body.get("parts")
    if not isinstance(parts, list) or not parts:
        raise RuleSetError({"parts": "a rule set has at least one part"})
    seen: set[str] = set()
    total = 0.0
    for i, part in enumerate(parts):
        where = f"parts[{i}]"
        if not isinstance(part, Mapping) or not isinstance(part.get("part"), str):
            problems[where] = "a part is an object with a name ('part')"
            continue
        if not _num(part.get("points")) or part["points"] <= 0:
            problems[f"{where}.points"] = "a part's points are a positive number"
            continue
        points = float(part["points"])
        items = part.get("items")
        if not isinstance(items, list) or not items:
            problems[f"{where}.items"] = "a part has at least one item"
            continue
        caps = 0.0
        for j, item in enumerate(items):
            w = f"{where}.items[{j}]"
            problem = _item_problem(item)
            if problem:
                problems[w] = problem
                continue
            if item["item"] in seen:
                problems[w] = f"item {item['item']!r} appears twice"
            seen.add(item["item"])
            caps += float(item["cap"])
        if caps > points:
            problems[f"{where}.points"] = (
                f"the items' caps add up to {caps:g}, more than the part's {points:g} points"
            )
        elif caps < points:
            notes.append(
                f"part {part['part']!r} declares {points:g} points but its items give at most "
                f"{caps:g}"
            )
        total += min(points, caps)
    if total > 100:
        problems["parts"] = f"the parts (bonus included) give up to {total:g} > 100 points"
    targets = body.get("targets", {})
    if not isinstance(targets, Mapping):
        problems["targets"] = "targets is an object"
    else:
        for name in (
            "tech_sme_coverage",
            "hitech_candidate_coverage",
            "station_incubated_share",
            "annual_growth",
        ):
            v = targets.get(name)
            if v is not None and (not _num(v) or not 0 <= v <= 1):
                problems[f"targets.{name}"] = "a share between 0 and 1"
        for name in ("base_tech_smes", "base_hitech_enterprises"):
            v = targets.get(name)
            if v is not None and (not isinstance(v, int) or isinstance(v, bool) or v < 0):
                problems[f"targets.{name}"] = "a count >= 0 (or null)"
    if problems:
        raise RuleSetError(problems)
    return notes


def _item_problem(item: Any) -> str | None:
    if not isinstance(item, Mapping) or not isinstance(item.get("item"), str):
        return "an item is an object with a name ('item')"
    kind = item.get("kind")
    if kind not in KINDS:
        return f"kind must be one of {', '.join(KINDS)}"
    if not _num(item.get("cap")) or item["cap"] <= 0:
        return "cap is a positive number"
    if kind == "rating" and (
        item.get("input") not in RATING_INPUTS or not _num(item.get("max")) or item["max"] <= 0
    ):
        return "a rating names a rating input and a positive max"
    if kind == "threshold" and (
        item.get("input") not in COUNT_INPUTS or not _num(item.get("floor")) or item["floor"] < 0
    ):
        return "a threshold names a count input and a floor >= 0"
    if (
        kind == "threshold"
        and item.get("per_months") is not None
        and (not isinstance(item["per_months"], int) or not 1 <= item["per_months"] <= 120)
    ):
        return "per_months is a whole number of months, 1 to 120"
    if kind == "share" and (
        item.get("numerator") not in COUNT_INPUTS or item.get("denominator") not in COUNT_INPUTS
    ):
        return "a share names count inputs as numerator and denominator"
    if kind == "share" and item.get("override") not in (None, *OVERRIDE_INPUTS):
        return f"override must be one of {', '.join(OVERRIDE_INPUTS)}"
    if kind == "average":
        scale = item.get("scale")
        if item.get("input") not in RATING_INPUTS or not (
            isinstance(scale, list)
            and len(scale) == 2
            and all(_num(x) for x in scale)
            and scale[0] < scale[1]
        ):
            return "an average names a rating input and a scale [low, high]"
    if kind == "weighted":
        weights = item.get("weights")
        if not isinstance(weights, Mapping) or not weights:
            return "weighted items have weights"
        for name, w in weights.items():
            if name not in COUNT_INPUTS:
                return f"unknown count input {name!r}"
            if not _num(w) or w < 0:
                return f"weight of {name!r} must be a number >= 0"
    return None


def default_rule_set() -> dict[str, Any]:
    return copy.deepcopy(DEFAULT_RULE_SET)


# --- evaluation ------------------------------------------------------------------------


@dataclass
class Inputs:
    """What a unit did in a period: counts, and the ratings given (lists, averaged)."""

    counts: dict[str, int] = field(default_factory=dict)
    ratings: dict[str, list[float]] = field(default_factory=dict)
    overrides: dict[str, float] = field(default_factory=dict)
    months: int | None = None  # the period's length, for items stated per year

    def count(self, name: str) -> int:
        return int(self.counts.get(name, 0))

    def average(self, name: str) -> float | None:
        values = self.ratings.get(name) or []
        return sum(values) / len(values) if values else None


def _round(x: float) -> float:
    return round(x + 0.0, 2)


def rule_text(item: Mapping[str, Any]) -> str:
    """The item's rule in words, for the scorecard."""
    kind, cap = item["kind"], item["cap"]
    if kind == "rating":
        return f"rated 0–{item['max']:g} by a supervisor (the period's average), at most {cap:g}"
    if kind == "threshold":
        full = item["floor"] + cap
        return (
            f"≥ {full:g} → {cap:g}; each one fewer −1; {item['floor']:g} or fewer → 0 "
            f"(clamp(n − {item['floor']:g}, 0, {cap:g}))"
        )
    if kind == "share":
        return (
            f"{cap:g} × {item['numerator']} / {item['denominator']}; a supervisor's override "
            f"({item.get('override')}) wins when given"
        )
    if kind == "average":
        lo, hi = item["scale"]
        return f"average {item['input']} on {lo:g}–{hi:g} mapped linearly to 0–{cap:g}"
    weights = ", ".join(f"{k} {v:g}" for k, v in item["weights"].items())
    return f"Σ weight × count ({weights}), at most {cap:g}"


def score_item(item: Mapping[str, Any], inputs: Inputs) -> tuple[float, dict[str, Any]]:
    """The item's points and the figures they came from."""
    kind, cap = item["kind"], float(item["cap"])
    if kind == "rating":
        avg = inputs.average(item["input"])
        pts = 0.0 if avg is None else min(max(avg, 0.0), float(item["max"]), cap)
        return pts, {item["input"]: avg}
    if kind == "threshold":
        n = inputs.count(item["input"])
        per = item.get("per_months")
        if per and inputs.months and inputs.months != per:
            # the table's figure is per `per_months` (a year): a shorter or longer period
            # is judged on its rate, scaled to that span
            scaled = n * per // inputs.months
            pts = float(min(max(scaled - item["floor"], 0), cap))
            return pts, {item["input"]: n, f"{item['input']}_per_{per}_months": scaled}
        return float(min(max(n - item["floor"], 0), cap)), {item["input"]: n}
    if kind == "share":
        override = item.get("override")
        num, den = inputs.count(item["numerator"]), inputs.count(item["denominator"])
        basis: dict[str, Any] = {item["numerator"]: num, item["denominator"]: den}
        if override and override in inputs.overrides:
            basis[override] = inputs.overrides[override]
            return min(max(inputs.overrides[override], 0.0), cap), basis
        return (min(max(cap * num / den, 0.0), cap) if den else 0.0), basis
    if kind == "average":
        lo, hi = item["scale"]
        avg = inputs.average(item["input"])
        if avg is None:
            return 0.0, {item["input"]: None}
        return min(max((avg - lo) / (hi - lo), 0.0), 1.0) * cap, {item["input"]: avg}
    raw = sum(w * inputs.count(name) for name, w in item["weights"].items())
    return float(min(raw, cap)), {name: inputs.count(name) for name in item["weights"]} | {
        "uncapped": raw
    }


def evaluate(body: Mapping[str, Any], inputs: Inputs) -> dict[str, Any]:
    """The scorecard's numbers: each item (points, cap, rule, basis), part subtotals, total."""
    parts_out = []
    total = 0.0
    for part in body["parts"]:
        items_out = []
        subtotal = 0.0
        for item in part["items"]:
            pts, basis = score_item(item, inputs)
            pts = _round(pts)
            subtotal += pts
            items_out.append(
                {
                    "item": item["item"],
                    "title": item.get("title", item["item"]),
                    "points": pts,
                    "cap": item["cap"],
                    "rule": rule_text(item),
                    "basis": basis,
                }
            )
        subtotal = _round(min(subtotal, part["points"]))
        total += subtotal
        parts_out.append(
            {
                "part": part["part"],
                "title": part.get("title", part["part"]),
                "points": part["points"],
                "bonus": bool(part.get("bonus")),
                "subtotal": subtotal,
                "items": items_out,
            }
        )
    return {"parts": parts_out, "total": _round(total)}


def competition_ranks(totals: list[tuple[str, float]]) -> dict[str, int]:
    """1, 2, 2, 4: equal totals share a rank (highest first)."""
    ordered = sorted(totals, key=lambda t: (-t[1], t[0]))
    ranks: dict[str, int] = {}
    for i, (unit, value) in enumerate(ordered):
        if i and value == ordered[i - 1][1]:
            ranks[unit] = ranks[ordered[i - 1][0]]
        else:
            ranks[unit] = i + 1
    return ranks
