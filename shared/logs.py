"""Logging: one line per record, with its thread and the correlation id in force.

The correlation id follows a demand from the first HTTP request through every
event and every log line: the web layer sets it per request, the consumer per
event (from the envelope).
"""

from __future__ import annotations

import logging
from contextvars import ContextVar

correlation_id: ContextVar[str] = ContextVar("correlation_id", default="-")
# Who is acting, and on whose behalf: the web layer sets it per request (the signed-in
# person or the system's key), the consumer per event (``service:<name>`` on behalf of the
# event's actor). Every event made meanwhile carries it in its envelope.
acting: ContextVar[tuple[str, str | None] | None] = ContextVar("acting", default=None)

FORMAT = (
    "%(asctime)s %(levelname)s [%(threadName)s] %(name)s cid=%(correlation_id)s"
    " actor=%(actor)s: %(message)s"
)


class CorrelationFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        record.correlation_id = correlation_id.get()
        who = acting.get()
        record.actor = "-" if who is None else (f"{who[0]}<{who[1]}" if who[1] else who[0])
        return True


def setup_logging(level: str = "INFO") -> None:
    root = logging.getLogger()
    if not any(isinstance(f, CorrelationFilter) for h in root.handlers for f in h.filters):
        handler = logging.StreamHandler()
        handler.setFormatter(logging.Formatter(FORMAT))
        handler.addFilter(CorrelationFilter())
        root.addHandler(handler)
    root.setLevel(level.upper())
    for noisy in ("amqp", "kombu", "werkzeug"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
