"""Which failures are the infrastructure's (waited out, 503) and which are the work's."""

import sqlite3

import psycopg
import psycopg.errors
import pytest
from amqp.exceptions import MessageNacked
from kombu.exceptions import OperationalError as KombuOperationalError
from sqlalchemy import exc as sa_exc

from shared.faults import BROKER, DATABASE, unavailable


def wrapped(orig, cls=sa_exc.OperationalError):
    return cls("SELECT 1", {}, orig)


@pytest.mark.parametrize(
    "exc",
    [
        wrapped(psycopg.OperationalError("connection refused")),  # client side: no sqlstate
        wrapped(psycopg.errors.AdminShutdown()),
        wrapped(psycopg.errors.CannotConnectNow()),
        wrapped(psycopg.errors.SerializationFailure()),
        wrapped(psycopg.errors.DeadlockDetected()),
        wrapped(psycopg.errors.TooManyConnections()),
        wrapped(psycopg.errors.lookup("08006")()),  # connection failure
        wrapped(psycopg.InterfaceError("the connection is closed"), sa_exc.InterfaceError),
        wrapped(sqlite3.OperationalError("database is locked")),
        sa_exc.TimeoutError("QueuePool limit reached"),
    ],
)
def test_database_outages_and_conflicts_are_transient(exc):
    assert unavailable(exc) == DATABASE


@pytest.mark.parametrize(
    "exc",
    [
        wrapped(psycopg.errors.ProgramLimitExceeded()),  # index row too large: every time
        wrapped(psycopg.errors.QueryCanceled()),  # a statement timeout: the work is too big
        wrapped(psycopg.errors.DiskFull()),  # SELECT 1 would pass: not waited out blindly
        wrapped(sqlite3.OperationalError("no such table: demands")),  # a missing migration
        wrapped(psycopg.errors.UniqueViolation(), sa_exc.IntegrityError),
        KeyError("no such department"),
        ValueError("bad payload"),
    ],
)
def test_the_works_own_failures_are_not(exc):
    assert unavailable(exc) is None


def test_broker_failures_are_transient():
    assert unavailable(ConnectionRefusedError()) == BROKER
    assert unavailable(KombuOperationalError("connection refused")) == BROKER
    assert unavailable(MessageNacked("nacked")) == BROKER


def test_a_cause_is_followed_but_not_a_suppressed_context():
    outage = wrapped(psycopg.OperationalError("connection refused"))
    try:
        try:
            raise outage
        except sa_exc.OperationalError as e:
            raise RuntimeError("could not load the department") from e
    except RuntimeError as exc:
        assert unavailable(exc) == DATABASE
    try:
        try:
            raise outage
        except sa_exc.OperationalError:
            raise LookupError("unknown department") from None
    except LookupError as exc:
        assert unavailable(exc) is None
