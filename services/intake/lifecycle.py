"""The closed loop of a demand (XN 闭环管理): states, legal transitions, revisit.

accepted (受理) → in_progress (办理) → feedback (反馈) → follow_up (跟踪) → closed (办结),
plus rejected from screening. Pure Python: no Flask, SQLAlchemy or kombu.
"""

from __future__ import annotations

from dataclasses import dataclass

from shared.contracts.intake import STATUSES as STATES

TRANSITIONS: dict[str, tuple[str, ...]] = {
    "accepted": ("in_progress", "rejected"),
    "in_progress": ("feedback",),
    "feedback": ("follow_up", "closed"),
    # follow-up finds more work, reports again, or ends the case
    "follow_up": ("in_progress", "feedback", "closed"),
    # unsolved demands stay tracked until solved (XN 需求反馈与跟踪)
    "closed": ("follow_up",),
    "rejected": (),
}

# where the loop has ended (a closed demand may still be reopened by follow-up)
FINAL = ("closed", "rejected")
RESOLUTIONS = ("solved", "unsolvable")
REOPENING_RATINGS = (1, 2)  # a dissatisfied revisit reopens follow-up


class LifecycleError(ValueError):
    """A transition the rules do not allow; ``allowed`` names the legal targets."""

    def __init__(self, message: str, allowed: tuple[str, ...] = ()) -> None:
        super().__init__(message)
        self.allowed = allowed


@dataclass(frozen=True)
class Transition:
    from_status: str
    to_status: str
    note: str
    resolution: str | None = None


def transition(
    current: str, target: str, note: str = "", resolution: str | None = None
) -> Transition:
    """Check one step of the loop and return it, or raise ``LifecycleError``."""
    allowed = TRANSITIONS.get(current, ())
    if target not in STATES:
        raise LifecycleError(f"unknown status {target!r}", allowed)
    if target not in allowed:
        raise LifecycleError(
            f"a demand that is {current} cannot become {target}; "
            f"allowed: {', '.join(allowed) or 'none (final)'}",
            allowed,
        )
    note = note.strip()
    if target == "rejected" and not note:
        raise LifecycleError("rejecting a demand needs the reason in the note", allowed)
    if target == "closed":
        if resolution not in RESOLUTIONS:
            raise LifecycleError("closing needs a resolution: solved or unsolvable", allowed)
        if resolution == "unsolvable" and not note:
            # XM 做好说明和解释: closed unsolved only with an explanation
            raise LifecycleError("closing an unsolvable demand needs an explanation", allowed)
    elif resolution is not None:
        raise LifecycleError("a resolution is given only when closing", allowed)
    return Transition(current, target, note, resolution)


def revisit(status: str, already_rated: bool, rating: int) -> Transition | None:
    """Check a satisfaction revisit (满意度回访) of the demand's current closure
    (``already_rated``: that closure has had its revisit); the reopening it causes, if
    any. Each closure gets its own revisit."""
    if status != "closed":
        raise LifecycleError("only a closed demand is revisited")
    if already_rated:
        raise LifecycleError("this closure of the demand has already been revisited")
    if not 1 <= rating <= 5:
        raise LifecycleError("the rating is 1 to 5")
    if rating in REOPENING_RATINGS:
        return Transition("closed", "follow_up", f"revisit rated {rating}: follow-up reopened")
    return None
