"""A rule set evaluated, point by point: a unit's inputs → each item's points, with the rule
in words and the figures they came from; part subtotals; the total; competition ranks.

Pure Python: no Flask, SQLAlchemy or kombu. The kinds of item are described in
``services.scoring.domain.table``.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any


@dataclass
class Inputs:
    """What a unit did in a period: counts, and the ratings given (lists, averaged) — or
    their sum and number when the database added them up (``rating_sums``)."""

    counts: dict[str, int] = field(default_factory=dict)
    ratings: dict[str, list[float]] = field(default_factory=dict)
    overrides: dict[str, float] = field(default_factory=dict)
    months: float | None = None  # the period's length (a day: 12 / 365), for items per year
    rating_sums: dict[str, tuple[float, int]] = field(default_factory=dict)

    def count(self, name: str) -> int:
        return int(self.counts.get(name, 0))

    def average(self, name: str) -> float | None:
        values = self.ratings.get(name) or []
        total, n = self.rating_sums.get(name, (0.0, 0))
        return (sum(values) + total) / (len(values) + n) if values or n else None


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
            scaled = math.floor(n * per / inputs.months + 1e-9)  # 1e-9: 12 / (12 / 365)
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
