"""Logging: one line per record, with its thread, its service and the correlation id in force.

The correlation id follows a demand from the first HTTP request through every
event and every log line: the web layer sets it per request (the gateway's
``X-Request-ID``), the consumer per event (from the envelope). Each sets it in a
``scope`` that puts back what was there before when the request or the event is
done, so a line that belongs to no request or event carries none (``-`` in text,
``null`` in JSON) instead of the last one's.

Two formats (``ONESTOP_LOG_FORMAT``): ``text`` (the default, for a terminal) and
``json``, one object per line with ``time`` (UTC, ISO 8601), ``level``, ``logger``,
``message``, ``service``, ``correlation_id``, ``actor``, ``thread`` and, when there
is one, ``exception`` (the traceback) — for a log collector, or ``jq``.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from datetime import UTC, datetime
from typing import Any

from pythonjsonlogger.json import JsonFormatter

NONE = "-"  # no correlation id, actor or service (text); null in JSON
FORMATS = ("text", "json")

correlation_id: ContextVar[str] = ContextVar("correlation_id", default=NONE)
# Who is acting, and on whose behalf: the web layer sets it per request (the signed-in
# person or the system's key), the consumer per event (``service:<name>`` on behalf of the
# event's actor). Every event made meanwhile carries it in its envelope.
acting: ContextVar[tuple[str, str | None] | None] = ContextVar("acting", default=None)
# The service the line is about: per request and per event (the embedded shape runs
# every service in one process); a worker process names its own (``setup_logging``).
service: ContextVar[str | None] = ContextVar("service", default=None)
_process_service: str | None = None

FORMAT = (
    "%(asctime)s %(levelname)s [%(threadName)s] %(name)s cid=%(correlation_id)s"
    " actor=%(actor)s: %(message)s"
)
JSON_FIELDS = (
    "%(asctime)s %(levelname)s %(name)s %(message)s %(service)s %(correlation_id)s %(actor)s"
    " %(threadName)s"
)
JSON_NAMES = {
    "asctime": "time",
    "levelname": "level",
    "name": "logger",
    "threadName": "thread",
    "exc_info": "exception",
}


@contextmanager
def scope(
    cid: str | None = None, actor: tuple[str, str | None] | None = None, svc: str | None = None
) -> Iterator[None]:
    """The log context of one request, event or batch: set on entry (none by default),
    put back as it was on exit, whatever is set inside meanwhile."""
    tokens = (correlation_id.set(cid or NONE), acting.set(actor), service.set(svc))
    try:
        yield
    finally:
        correlation_id.reset(tokens[0])
        acting.reset(tokens[1])
        service.reset(tokens[2])


def _actor() -> str:
    who = acting.get()
    return NONE if who is None else (f"{who[0]}<{who[1]}" if who[1] else who[0])


class CorrelationFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        record.correlation_id = correlation_id.get()
        record.actor = _actor()
        record.service = service.get() or _process_service or NONE
        return True


class JsonLines(JsonFormatter):
    """One JSON object per line; ``-`` (none) is written as null."""

    def __init__(self) -> None:
        super().__init__(JSON_FIELDS, rename_fields=JSON_NAMES)

    def formatTime(self, record: logging.LogRecord, datefmt: str | None = None) -> str:
        return datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds")

    def process_log_record(self, log_data: dict[str, Any]) -> dict[str, Any]:
        for key in ("service", "correlation_id", "actor"):
            if log_data.get(key) == NONE:
                log_data[key] = None
        return log_data


def formatter(fmt: str) -> logging.Formatter:
    if fmt not in FORMATS:
        raise ValueError(f"the log format must be one of {', '.join(FORMATS)}, got {fmt!r}")
    return JsonLines() if fmt == "json" else logging.Formatter(FORMAT)


def setup_logging(level: str = "INFO", fmt: str = "text", svc: str | None = None) -> None:
    """Our handler on the root logger (once), in format ``fmt``; ``svc`` names the
    service of a process that runs only one (a worker)."""
    global _process_service
    if svc is not None:
        _process_service = svc
    root = logging.getLogger()
    ours: list[logging.Handler] = [
        h for h in root.handlers if any(isinstance(f, CorrelationFilter) for f in h.filters)
    ]
    if not ours:
        stream = logging.StreamHandler()
        stream.addFilter(CorrelationFilter())
        root.addHandler(stream)
        ours = [stream]
    for handler in ours:
        handler.setFormatter(formatter(fmt))
    root.setLevel(level.upper())
    for noisy in ("amqp", "kombu", "werkzeug"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
