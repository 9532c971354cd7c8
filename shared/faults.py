"""Which failures belong to the infrastructure, not to the message or the request.

A database that is unreachable or restarting, a connection lost mid-transaction, a
serialization failure or deadlock, a pool exhausted for a moment, a broker channel or
connection error: none of these says anything about the event being handled or the
request being served. They are *transient*: the consumer waits them out without
using up a message's bounded attempts (``shared.messaging``), and the HTTP APIs answer
``503`` with ``Retry-After`` (``shared.errors``). Everything else is the handler's own
failure on a healthy system, and counts.
"""

from __future__ import annotations

import socket

from sqlalchemy import exc as sa_exc

DATABASE = "database"
BROKER = "broker"

# How long a client should wait before retrying a request that met an outage.
RETRY_AFTER_SECONDS = 5


def _broker_errors() -> tuple[type[BaseException], ...]:
    import amqp.exceptions
    import kombu.exceptions

    return (
        kombu.exceptions.OperationalError,  # kombu's "connection refused / lost"
        amqp.exceptions.ConnectionError,
        amqp.exceptions.RecoverableChannelError,
        amqp.exceptions.RecoverableConnectionError,
        amqp.exceptions.MessageNacked,  # the broker refused a confirmed publish for now
    )


def _http_errors() -> tuple[type[BaseException], ...]:
    import requests

    # the RabbitMQ management API (agency broker users) is part of the broker
    return (requests.ConnectionError, requests.Timeout)


# PostgreSQL error codes that say the server or the moment is the problem, not the data:
# the connection (class 08), a server shutting down or starting (57P01–57P03), too many
# connections (53300), a serialization failure or deadlock (40001, 40P01), a lock wait
# timed out (55P03). Others (a value too long, a statement timeout, a full disk that the
# probe would not notice) fail again every time and count as the handler's failure.
TRANSIENT_SQLSTATES = frozenset({"57P01", "57P02", "57P03", "53300", "40001", "40P01", "55P03"})
# SQLite's "the other writer holds the lock" or "the file is not there for a moment";
# its other OperationalErrors (no such table, a syntax error) are bugs.
TRANSIENT_SQLITE = ("database is locked", "database table is locked", "unable to open database")


def _database_error(orig: BaseException | None) -> bool:
    """Whether a DBAPI error is the database's moment, not the statement's."""
    if orig is None:
        return True
    sqlstate = getattr(orig, "sqlstate", "unset")
    if sqlstate != "unset":  # psycopg: None for client-side failures (connection refused)
        return sqlstate is None or sqlstate.startswith("08") or sqlstate in TRANSIENT_SQLSTATES
    if type(orig).__module__.startswith("sqlite3"):
        return any(text in str(orig) for text in TRANSIENT_SQLITE)
    return True


def _classify_one(exc: BaseException) -> str | None:
    if isinstance(exc, sa_exc.DBAPIError) and exc.connection_invalidated:
        return DATABASE
    if isinstance(exc, sa_exc.TimeoutError):  # no pooled connection came free in time
        return DATABASE
    if isinstance(exc, sa_exc.OperationalError | sa_exc.InterfaceError):
        return DATABASE if _database_error(exc.orig) else None
    try:
        import psycopg
    except ImportError:  # pragma: no cover - psycopg is a dependency
        psycopg = None  # type: ignore[assignment]
    if psycopg is not None and isinstance(exc, psycopg.OperationalError | psycopg.InterfaceError):
        return DATABASE if _database_error(exc) else None
    if isinstance(exc, _broker_errors() + _http_errors()):
        return BROKER
    if isinstance(exc, ConnectionError | socket.timeout):
        return BROKER
    return None


def unavailable(exc: BaseException) -> str | None:
    """The dependency (``"database"`` or ``"broker"``) whose outage ``exc`` shows, or
    None when ``exc`` is not an infrastructure failure. Causes are followed, so a
    handler that wraps an OperationalError in its own exception is still recognised."""
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen and len(seen) < 10:
        seen.add(id(current))
        kind = _classify_one(current)
        if kind is not None:
            return kind
        suppressed = current.__suppress_context__  # ``raise … from None``
        current = current.__cause__ or (None if suppressed else current.__context__)
    return None


def is_transient(exc: BaseException) -> bool:
    return unavailable(exc) is not None
