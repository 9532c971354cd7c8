"""Failed log-ins lock an account with back-off; sessions end idle or at their absolute
limit — every instant fixed, every boundary exact."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from services.directory.lockout import (
    DEFAULT_LOCKOUT,
    DEFAULT_SESSION,
    LockoutPolicy,
    LockState,
    SessionPolicy,
    access_token_expires,
    after_failure,
    after_success,
    locked,
    session_ends,
    session_state,
)

T0 = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)
S = timedelta(seconds=1)
M = timedelta(minutes=1)


def fail_at(state: LockState, *instants: datetime) -> LockState:
    for now in instants:
        state = after_failure(state, now)
    return state


def test_four_failures_do_not_lock():
    state = fail_at(LockState(), T0, T0 + S, T0 + 2 * S, T0 + 3 * S)
    assert state == LockState(4, None)
    assert locked(state, T0 + 3 * S) is None


def test_the_fifth_failure_locks_for_one_minute_exactly():
    fifth = T0 + 4 * S
    state = fail_at(LockState(), T0, T0 + S, T0 + 2 * S, T0 + 3 * S, fifth)
    assert state == LockState(5, fifth + M)
    assert locked(state, fifth) == fifth + M
    assert locked(state, fifth + M - timedelta(microseconds=1)) == fifth + M
    assert locked(state, fifth + M) is None  # the end is exclusive


def test_each_further_failure_doubles_the_lock_up_to_an_hour():
    """The timeline of an attacker who tries again the moment each lock ends."""
    state = fail_at(LockState(), *(T0 + i * S for i in range(5)))
    now = T0 + 4 * S
    seen = [state.locked_until - now]
    for _ in range(8):
        now = state.locked_until  # the lock has just ended
        assert locked(state, now) is None
        state = after_failure(state, now)
        seen.append(state.locked_until - now)
    assert seen == [M, 2 * M, 4 * M, 8 * M, 16 * M, 32 * M, 60 * M, 60 * M, 60 * M]
    assert state.failures == 13
    assert now == T0 + 4 * S + (1 + 2 + 4 + 8 + 16 + 32 + 60 + 60) * M


def test_a_success_clears_the_count_and_the_next_failure_starts_over():
    state = fail_at(LockState(), *(T0 + i * S for i in range(6)))
    assert state.failures == 6
    state = after_success()
    assert state == LockState(0, None)
    assert fail_at(state, *(T0 + i * M for i in range(4))) == LockState(4, None)


def test_a_failure_counted_during_a_lock_locks_again_from_then_but_never_shorter():
    fifth = T0 + 4 * S
    state = fail_at(LockState(), *(T0 + i * S for i in range(5)))
    assert state.locked_until == fifth + M
    sixth = fifth + 10 * S
    state = after_failure(state, sixth)
    assert state == LockState(6, sixth + 2 * M)
    long_lock = LockState(5, T0 + 3 * 60 * M)
    assert after_failure(long_lock, T0) == LockState(6, T0 + 3 * 60 * M)


def test_the_defaults_are_the_documented_ones():
    p = DEFAULT_LOCKOUT
    assert (p.failures_to_lock, p.first_lock, p.max_lock) == (5, M, 60 * M)
    assert [DEFAULT_LOCKOUT.lock_for(n) for n in range(1, 13)] == [
        timedelta(0),
        timedelta(0),
        timedelta(0),
        timedelta(0),
        M,
        2 * M,
        4 * M,
        8 * M,
        16 * M,
        32 * M,
        60 * M,
        60 * M,
    ]
    assert DEFAULT_LOCKOUT.lock_for(10**9) == 60 * M  # no overflow however many


def test_a_policy_of_its_own():
    policy = LockoutPolicy(failures_to_lock=3, first_lock=5 * M, max_lock=15 * M)
    state = LockState()
    for i in range(5):
        state = after_failure(state, T0 + i * S, policy)
    assert state == LockState(5, T0 + 4 * S + 15 * M)  # 5, 10, then 15 (capped, not 20)


@pytest.mark.parametrize(
    "kwargs",
    [
        {"failures_to_lock": 0},
        {"first_lock": timedelta(0)},
        {"first_lock": 2 * M, "max_lock": M},
    ],
)
def test_an_inconsistent_lockout_policy_is_refused(kwargs):
    with pytest.raises(ValueError):
        LockoutPolicy(**kwargs)


@given(st.lists(st.integers(min_value=0, max_value=7200), max_size=30))
def test_a_lock_never_exceeds_the_cap_and_never_moves_back(gaps):
    state, now = LockState(), T0
    for gap in gaps:
        now += timedelta(seconds=gap)
        before = state.locked_until
        state = after_failure(state, now)
        if state.locked_until is not None:
            assert state.locked_until - now <= 60 * M
            assert before is None or state.locked_until >= before
        assert (state.locked_until is not None) == (state.failures >= 5)


# --- sessions ---------------------------------------------------------------------------


def test_the_session_defaults_are_the_documented_ones():
    p = DEFAULT_SESSION
    assert (p.idle, p.absolute, p.access_token) == (30 * M, 8 * 60 * M, 10 * M)


def test_a_session_left_alone_goes_idle_after_30_minutes_exactly():
    assert session_ends(T0, T0) == T0 + 30 * M
    assert session_state(T0, T0, T0 + 30 * M - S) == "active"
    assert session_state(T0, T0, T0 + 30 * M) == "idle"


def test_use_keeps_a_session_alive_until_its_absolute_end():
    created = T0
    last_seen = T0 + 7 * 60 * M + 50 * M  # used 10 minutes before the 8 hours are up
    assert session_ends(created, last_seen) == T0 + 8 * 60 * M  # absolute wins over idle
    assert session_state(created, last_seen, T0 + 8 * 60 * M - S) == "active"
    assert session_state(created, last_seen, T0 + 8 * 60 * M) == "expired"


def test_expired_beats_idle_once_the_absolute_end_is_past():
    assert session_state(T0, T0, T0 + 9 * 60 * M) == "expired"
    assert session_state(T0, T0 + 60 * M, T0 + 2 * 60 * M) == "idle"


def test_idle_end_when_it_comes_first():
    last_seen = T0 + 3 * 60 * M
    assert session_ends(T0, last_seen) == last_seen + 30 * M


def test_an_access_token_lives_10_minutes_but_not_past_the_session():
    assert access_token_expires(T0, T0 + M) == T0 + 11 * M
    near_end = T0 + 8 * 60 * M - 4 * M
    assert access_token_expires(T0, near_end) == T0 + 8 * 60 * M


def test_a_session_policy_of_its_own():
    policy = SessionPolicy(idle=5 * M, absolute=60 * M, access_token=2 * M)
    assert session_state(T0, T0 + 57 * M, T0 + 59 * M, policy) == "active"
    assert session_state(T0, T0 + 50 * M, T0 + 55 * M, policy) == "idle"
    assert session_ends(T0, T0 + 57 * M, policy) == T0 + 60 * M


@pytest.mark.parametrize(
    "kwargs",
    [
        {"idle": timedelta(0)},
        {"idle": 9 * 60 * M},
        {"access_token": timedelta(0)},
        {"access_token": 9 * 60 * M},
    ],
)
def test_an_inconsistent_session_policy_is_refused(kwargs):
    with pytest.raises(ValueError):
        SessionPolicy(**kwargs)


@given(
    st.integers(min_value=0, max_value=10 * 3600),
    st.integers(min_value=0, max_value=10 * 3600),
)
def test_a_session_is_active_exactly_until_it_ends(seen_after, now_after):
    last_seen = T0 + timedelta(seconds=seen_after)
    now = last_seen + timedelta(seconds=now_after)
    active = session_state(T0, last_seen, now) == "active"
    assert active == (now < session_ends(T0, last_seen))
