"""Failed log-ins and sessions: when an account locks, and when a session ends.

Pure Python: no Flask, SQLAlchemy or kombu; every instant comes from the caller. The rules
are what GB/T 22239-2019 (等保 2.0) level 3 asks in 8.1.4.1 b ("应具有登录失败处理功能，应配置
并启用结束会话、限制非法登录次数和当登录连接超时自动退出等相关措施"); every number is the
default of a ``LockoutPolicy`` or ``SessionPolicy`` field.

* **Lockout** (``after_failure``, ``after_success``, ``locked``): the 5th consecutive failed
  log-in locks the account for 1 minute; each further failure locks it again, for twice as
  long as the one before (2, 4, 8, 16, 32 minutes), never longer than 60 minutes. A success
  clears the count. A caller refuses a log-in while ``locked`` without checking the password
  (and without counting it): a lock is never shortened, but a failure counted during a lock
  locks again from that instant.
* **Sessions** (``session_ends``, ``session_state``, ``access_token_expires``): a session ends
  30 minutes after it was last used (idle) and 8 hours after the log-in whatever happens
  (absolute); an access token lives 10 minutes and never past its session's absolute end.
  Every end is exclusive: at the very instant a session ends it is no longer active.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Literal

MAX_DOUBLINGS = 32  # beyond this the cap has long been reached; keeps the power small


@dataclass(frozen=True)
class LockoutPolicy:
    """How repeated failed log-ins lock an account (限制非法登录次数)."""

    failures_to_lock: int = 5  # the 5th consecutive failure locks the account
    first_lock: timedelta = timedelta(minutes=1)
    max_lock: timedelta = timedelta(minutes=60)  # doubling stops here

    def __post_init__(self) -> None:
        if self.failures_to_lock < 1:
            raise ValueError("failures_to_lock is at least 1")
        if not timedelta(0) < self.first_lock <= self.max_lock:
            raise ValueError("need 0 < first_lock <= max_lock")

    def lock_for(self, failures: int) -> timedelta:
        """How long the ``failures``-th consecutive failure locks the account (0: it does not)."""
        beyond = failures - self.failures_to_lock
        if beyond < 0:
            return timedelta(0)
        return min(self.first_lock * 2 ** min(beyond, MAX_DOUBLINGS), self.max_lock)


@dataclass(frozen=True)
class LockState:
    """What is kept per account: consecutive failures, and until when it is locked."""

    failures: int = 0
    locked_until: datetime | None = None


DEFAULT_LOCKOUT = LockoutPolicy()


def after_failure(
    state: LockState, now: datetime, policy: LockoutPolicy = DEFAULT_LOCKOUT
) -> LockState:
    """The state after one more failed log-in at ``now``."""
    failures = state.failures + 1
    duration = policy.lock_for(failures)
    if not duration:
        return LockState(failures, state.locked_until)
    until = now + duration
    if state.locked_until is not None and state.locked_until > until:
        until = state.locked_until  # a lock is never shortened
    return LockState(failures, until)


def after_success() -> LockState:
    """A successful log-in clears the count and any lock."""
    return LockState()


def locked(state: LockState, now: datetime) -> datetime | None:
    """When the account's lock ends, if it is locked at ``now``; else None."""
    if state.locked_until is not None and now < state.locked_until:
        return state.locked_until
    return None


# --- sessions ---------------------------------------------------------------------------


@dataclass(frozen=True)
class SessionPolicy:
    """How long a signed-in session and its access tokens last (登录连接超时自动退出)."""

    idle: timedelta = timedelta(minutes=30)  # since the session was last used
    absolute: timedelta = timedelta(hours=8)  # since the log-in, whatever happens
    access_token: timedelta = timedelta(minutes=10)  # one signed token's lifetime

    def __post_init__(self) -> None:
        if not timedelta(0) < self.idle <= self.absolute:
            raise ValueError("need 0 < idle <= absolute")
        if not timedelta(0) < self.access_token <= self.absolute:
            raise ValueError("need 0 < access_token <= absolute")


DEFAULT_SESSION = SessionPolicy()
SessionStateName = Literal["active", "idle", "expired"]


def session_ends(
    created_at: datetime, last_seen_at: datetime, policy: SessionPolicy = DEFAULT_SESSION
) -> datetime:
    """The instant the session ends unless it is used before: the earlier of the idle and
    the absolute time-outs."""
    return min(last_seen_at + policy.idle, created_at + policy.absolute)


def session_state(
    created_at: datetime,
    last_seen_at: datetime,
    now: datetime,
    policy: SessionPolicy = DEFAULT_SESSION,
) -> SessionStateName:
    """``"expired"`` from the absolute end on (no use revives it), else ``"idle"`` from the
    idle end on (a new log-in is needed), else ``"active"``."""
    if now >= created_at + policy.absolute:
        return "expired"
    if now >= last_seen_at + policy.idle:
        return "idle"
    return "active"


def access_token_expires(
    created_at: datetime, now: datetime, policy: SessionPolicy = DEFAULT_SESSION
) -> datetime:
    """When an access token issued at ``now`` for this session expires: its lifetime, cut
    short by the session's absolute end."""
    return min(now + policy.access_token, created_at + policy.absolute)
