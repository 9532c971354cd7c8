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
    )


def _http_errors() -> tuple[type[BaseException], ...]:
    import requests

    # the RabbitMQ management API (agency broker users) is part of the broker
    return (requests.ConnectionError, requests.Timeout)


def _classify_one(exc: BaseException) -> str | None:
    if isinstance(exc, sa_exc.DBAPIError) and exc.connection_invalidated:
        return DATABASE
    # OperationalError: connection refused or lost, server shutting down, serialization
    # failure, deadlock, lock or statement timeout, SQLite "database is locked".
    # InterfaceError: the connection was closed under us. TimeoutError: the pool.
    if isinstance(exc, sa_exc.OperationalError | sa_exc.InterfaceError | sa_exc.TimeoutError):
        return DATABASE
    try:
        import psycopg
    except ImportError:  # pragma: no cover - psycopg is a dependency
        psycopg = None  # type: ignore[assignment]
    if psycopg is not None and isinstance(exc, psycopg.OperationalError | psycopg.InterfaceError):
        return DATABASE
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
        current = current.__cause__ or current.__context__
    return None


def is_transient(exc: BaseException) -> bool:
    return unavailable(exc) is not None
