"""A rule set's consistency, problem by problem, before it is published.

Pure Python: no Flask, SQLAlchemy or kombu. Every part has positive points and at least
one item; every item a known kind, a positive cap and the inputs its kind needs; the
items' caps fit their part and the parts (bonus included) give at most 100 points; the
KPI targets are shares between 0 and 1 and the base-year counts whole numbers.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from services.scoring.domain.table import COUNT_INPUTS, KINDS, OVERRIDE_INPUTS, RATING_INPUTS

MAX_NUMBER = 1_000_000
SHARE_TARGETS = (
    "tech_sme_coverage",
    "hitech_candidate_coverage",
    "station_incubated_share",
    "annual_growth",
)
COUNT_TARGETS = ("base_tech_smes", "base_hitech_enterprises")


class RuleSetError(ValueError):
    def __init__(self, problems: dict[str, str]) -> None:
        super().__init__("; ".join(f"{k}: {v}" for k, v in problems.items()))
        self.problems = problems


def _num(x: Any) -> bool:
    """A finite number of sensible size (not a bool, NaN, infinity or a 400-digit int)."""
    if isinstance(x, bool) or not isinstance(x, int | float):
        return False
    try:
        return math.isfinite(x) and abs(x) <= MAX_NUMBER
    except OverflowError:
        return False


def _positive(x: Any) -> bool:
    return _num(x) and x > 0


def validate(body: Mapping[str, Any]) -> list[str]:
    """Raise ``RuleSetError`` naming each inconsistency; return notes on what is allowed
    but odd (a part declaring more points than its items can give, as table A.1 does)."""
    parts = body.get("parts")
    if not isinstance(parts, list) or not parts:
        raise RuleSetError({"parts": "a rule set has at least one part"})
    problems: dict[str, str] = {}
    notes: list[str] = []
    seen: set[str] = set()
    total = 0.0
    for i, part in enumerate(parts):
        total += _check_part(f"parts[{i}]", part, seen, problems, notes)
    if total > 100:
        problems["parts"] = f"the parts (bonus included) give up to {total:g} > 100 points"
    problems.update(target_problems(body.get("targets", {})))
    if problems:
        raise RuleSetError(problems)
    return notes


def _part_problem(part: Any) -> tuple[str, str] | None:
    """(where in the part, why) for a part that cannot be checked further."""
    if not isinstance(part, Mapping) or not isinstance(part.get("part"), str):
        return "", "a part is an object with a name ('part')"
    if not _positive(part.get("points")):
        return ".points", "a part's points are a positive number"
    items = part.get("items")
    if not isinstance(items, list) or not items:
        return ".items", "a part has at least one item"
    return None


def _check_part(
    where: str, part: Any, seen: set[str], problems: dict[str, str], notes: list[str]
) -> float:
    """Record the part's problems and notes; what it gives towards 100 (0 when unusable)."""
    problem = _part_problem(part)
    if problem:
        problems[where + problem[0]] = problem[1]
        return 0.0
    points = float(part["points"])
    caps = _item_caps(where, part["items"], seen, problems)
    if caps > points:
        problems[f"{where}.points"] = (
            f"the items' caps add up to {caps:g}, more than the part's {points:g} points"
        )
    elif caps < points:
        notes.append(
            f"part {part['part']!r} declares {points:g} points but its items give at most {caps:g}"
        )
    return min(points, caps)


def _item_caps(where: str, items: list[Any], seen: set[str], problems: dict[str, str]) -> float:
    """The sum of the part's sound items' caps; each unsound or repeated item recorded."""
    caps = 0.0
    for j, item in enumerate(items):
        w = f"{where}.items[{j}]"
        problem = item_problem(item)
        if problem:
            problems[w] = problem
            continue
        if item["item"] in seen:
            problems[w] = f"item {item['item']!r} appears twice"
        seen.add(item["item"])
        caps += float(item["cap"])
    return caps


def target_problems(targets: Any) -> dict[str, str]:
    """Targets are shares between 0 and 1; base-year counts are whole numbers >= 0."""
    if not isinstance(targets, Mapping):
        return {"targets": "targets is an object"}
    problems: dict[str, str] = {}
    for name in SHARE_TARGETS:
        v = targets.get(name)
        if v is not None and (not _num(v) or not 0 <= v <= 1):
            problems[f"targets.{name}"] = "a share between 0 and 1"
    for name in COUNT_TARGETS:
        v = targets.get(name)
        if v is not None and (not isinstance(v, int) or isinstance(v, bool) or v < 0):
            problems[f"targets.{name}"] = "a count >= 0 (or null)"
    return problems


def item_problem(item: Any) -> str | None:
    """Why an item cannot be evaluated, or None when it can."""
    if not isinstance(item, Mapping) or not isinstance(item.get("item"), str):
        return "an item is an object with a name ('item')"
    kind = item.get("kind")
    if kind not in KINDS:
        return f"kind must be one of {', '.join(KINDS)}"
    if not _positive(item.get("cap")):
        return "cap is a positive number"
    return _KIND_PROBLEMS[kind](item)


def _one_of(value: Any, names: Iterable[str]) -> bool:
    """``value`` is one of ``names`` (a list or an object is not, rather than a TypeError)."""
    return isinstance(value, str) and value in names


def _rating_problem(item: Mapping[str, Any]) -> str | None:
    if not _one_of(item.get("input"), RATING_INPUTS) or not _positive(item.get("max")):
        return "a rating names a rating input and a positive max"
    return None


def _threshold_problem(item: Mapping[str, Any]) -> str | None:
    floor: Any = item.get("floor")
    if not _one_of(item.get("input"), COUNT_INPUTS) or not _num(floor) or floor < 0:
        return "a threshold names a count input and a floor >= 0"
    per = item.get("per_months")
    if per is not None and (not isinstance(per, int) or not 1 <= per <= 120):
        return "per_months is a whole number of months, 1 to 120"
    return None


def _share_problem(item: Mapping[str, Any]) -> str | None:
    if item.get("numerator") not in COUNT_INPUTS or item.get("denominator") not in COUNT_INPUTS:
        return "a share names count inputs as numerator and denominator"
    if item.get("override") not in (None, *OVERRIDE_INPUTS):
        return f"override must be one of {', '.join(OVERRIDE_INPUTS)}"
    return None


def _average_problem(item: Mapping[str, Any]) -> str | None:
    scale = item.get("scale")
    sound = (
        isinstance(scale, list)
        and len(scale) == 2
        and all(_num(x) for x in scale)
        and scale[0] < scale[1]
    )
    if not _one_of(item.get("input"), RATING_INPUTS) or not sound:
        return "an average names a rating input and a scale [low, high]"
    return None


def _weighted_problem(item: Mapping[str, Any]) -> str | None:
    weights = item.get("weights")
    if not isinstance(weights, Mapping) or not weights:
        return "weighted items have weights"
    for name, w in weights.items():
        if name not in COUNT_INPUTS:
            return f"unknown count input {name!r}"
        if not _num(w) or w < 0:
            return f"weight of {name!r} must be a number >= 0"
    return None


_KIND_PROBLEMS: dict[str, Callable[[Mapping[str, Any]], str | None]] = {
    "rating": _rating_problem,
    "threshold": _threshold_problem,
    "share": _share_problem,
    "average": _average_problem,
    "weighted": _weighted_problem,
}
