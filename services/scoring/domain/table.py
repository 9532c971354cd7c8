"""Table A.1 (XN 附录A 表A.1) as data: the default rule set, and the inputs a rule set may name.

Pure Python: no Flask, SQLAlchemy or kombu. A rule set is a JSON document of parts
and items; each item has a *kind* that says how its inputs become points
(``evaluation``), checked for consistency before it is published (``validation``):

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
from collections.abc import Mapping
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


def default_rule_set() -> dict[str, Any]:
    return copy.deepcopy(DEFAULT_RULE_SET)


def targets_of(body: Mapping[str, Any]) -> dict[str, Any]:
    """The KPI targets of a rule set: its own over the default's."""
    return {**DEFAULT_RULE_SET["targets"], **(body.get("targets") or {})}
