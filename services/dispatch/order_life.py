"""The life of an agency order: a small state machine, and when an order is moved to
another agency (调单, CX 第二十四条).

Pure Python: no Flask, SQLAlchemy or kombu.
"""

from __future__ import annotations

from services.dispatch.alliance import AllianceRules

OPEN_STATUSES = ("dispatched", "acknowledged", "in_progress", "refused")
ORDER_ACTIONS: dict[str, tuple[tuple[str, ...], str]] = {
    "acknowledge": (("dispatched",), "acknowledged"),
    "start": (("dispatched", "acknowledged"), "in_progress"),
    "feedback": (("acknowledged", "in_progress"), "in_progress"),
    "complete": (("acknowledged", "in_progress"), "completed"),
    "refuse": (("dispatched", "acknowledged"), "refused"),
    "comply": (("refused",), "acknowledged"),  # coordination: the agency takes it after all
    "release": (("refused",), "withdrawn"),  # coordination: refusal justified or not, re-dispatched
    "reassign": (("dispatched", "acknowledged", "in_progress"), "reassigned"),
    "withdraw": (OPEN_STATUSES, "withdrawn"),
}


# Orders the agency has not taken up: withdrawn when their demand is closed. An order the
# agency acknowledged or is working on keeps its own life after the demand closes — it is
# completed and settled (CX 第十九条) whatever the loop did; a rejected demand withdraws every
# open order (it is never left with an agency).
NOT_TAKEN_UP = ("dispatched", "refused")
# An order's agency no longer handles the demand: without the enterprise's consent the
# order keeps no brief of it (the agency handling it reads the content and contact).
NO_LONGER_HANDLING = ("reassigned", "withdrawn")


def withdrawn_when(demand_status: str) -> tuple[str, ...]:
    """The statuses of the open agency orders withdrawn when their demand becomes
    ``demand_status`` (none while the loop goes on)."""
    if demand_status == "rejected":
        return OPEN_STATUSES
    if demand_status == "closed":
        return NOT_TAKEN_UP
    return ()


class IllegalAction(ValueError):
    def __init__(self, action: str, status: str) -> None:
        allowed = [a for a, (froms, _) in ORDER_ACTIONS.items() if status in froms]
        super().__init__(
            f"cannot {action} an order that is {status}; allowed: {', '.join(allowed) or 'none'}"
        )
        self.allowed = allowed


def order_step(action: str, status: str) -> str:
    """The status an agency order moves to, or ``IllegalAction``."""
    froms, to = ORDER_ACTIONS[action]
    if status not in froms:
        raise IllegalAction(action, status)
    return to


def reassignment_problem(overdue: bool, complaints: int) -> str | None:
    """第二十四条: only a lagging order that drew a complaint is moved (调单)."""
    missing = []
    if not overdue:
        missing.append("the order is not overdue")
    if complaints == 0:
        missing.append("there is no complaint on it")
    return (
        "reassignment (调单) needs an overdue order with a complaint: " + " and ".join(missing)
        if missing
        else None
    )


def exits_after_reassignment(reassignments_this_year: int, rules: AllianceRules) -> bool:
    """第二十四条: the second reassignment of the same agency in one year means exit."""
    return reassignments_this_year >= rules.reassignments_to_exit
