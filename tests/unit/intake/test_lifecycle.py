import itertools

import pytest

from services.intake.lifecycle import STATES, TRANSITIONS, LifecycleError, revisit, transition


def test_the_whole_loop():
    path = ["accepted", "in_progress", "feedback", "follow_up", "closed"]
    for a, b in itertools.pairwise(path):
        t = transition(a, b, "ok", resolution="solved" if b == "closed" else None)
        assert (t.from_status, t.to_status) == (a, b)


@pytest.mark.parametrize("current", STATES)
def test_every_illegal_step_names_the_allowed_ones(current):
    for target in STATES:
        if target in TRANSITIONS[current]:
            continue
        with pytest.raises(LifecycleError) as err:
            transition(current, target, "n", "solved")
        assert err.value.allowed == TRANSITIONS[current]


def test_rejection_needs_a_reason_and_is_final():
    with pytest.raises(LifecycleError, match="reason"):
        transition("accepted", "rejected", "  ")
    assert transition("accepted", "rejected", "out of scope").to_status == "rejected"
    assert TRANSITIONS["rejected"] == ()


def test_closing_rules():
    with pytest.raises(LifecycleError, match="resolution"):
        transition("feedback", "closed", "done")
    with pytest.raises(LifecycleError, match="explanation"):
        transition("feedback", "closed", "", resolution="unsolvable")
    t = transition("feedback", "closed", "no such technology exists yet", resolution="unsolvable")
    assert t.resolution == "unsolvable"
    with pytest.raises(LifecycleError, match="only when closing"):
        transition("accepted", "in_progress", "", resolution="solved")


def test_revisit():
    assert revisit("closed", False, 5) is None
    reopen = revisit("closed", False, 2)
    assert (reopen.from_status, reopen.to_status) == ("closed", "follow_up")
    for status, rated, rating in [
        ("feedback", False, 4),
        ("closed", True, 4),
        ("closed", False, 6),
        ("closed", False, 0),
    ]:
        with pytest.raises(LifecycleError):
            revisit(status, rated, rating)
