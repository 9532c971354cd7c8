"""Manual records: what no event carries — a supervisor's ratings and efficiency override,
assisted and successful applications, research outputs — entered with evidence, never
edited (retracted and entered again).

Pure Python: no Flask, SQLAlchemy or kombu.
"""

from __future__ import annotations

# Manual record kinds: the ratings and override (ranges) and the counted outputs.
RATING_KINDS = {"integrity_rating": (0, 5), "attitude_rating": (0, 5)}
OVERRIDE_KINDS = {"efficiency_override": (0, 15)}
COUNT_KINDS = (
    "assisted_application",
    "successful_application",
    "paper",
    "project",
    "achievement",
    "invention_patent",
    "utility_patent",
    "standard",
)
RECORD_KINDS = (*RATING_KINDS, *OVERRIDE_KINDS, *COUNT_KINDS)


def record_problem(kind: str, value: float, month: str, this_month: str) -> tuple[str, str] | None:
    """(field, why) when a record cannot be entered: a rating or override out of its
    range, a count that is not a whole number >= 1, a month still to come."""
    bounds = RATING_KINDS.get(kind) or OVERRIDE_KINDS.get(kind)
    if bounds and not bounds[0] <= value <= bounds[1]:
        return "value", f"{kind} is between {bounds[0]} and {bounds[1]}"
    if kind in COUNT_KINDS and (value < 1 or value != int(value)):
        return "value", f"{kind} counts whole items, at least 1"
    if month > this_month:
        return "period", "records are for this month or earlier"
    return None
