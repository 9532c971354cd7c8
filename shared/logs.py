"""Logging: one line per record, with the thread (relay, worker) that wrote it."""

from __future__ import annotations

import logging


def setup_logging(level: str = "INFO") -> None:
    logging.basicConfig(
        level=level.upper(),
        format="%(asctime)s %(levelname)s [%(threadName)s] %(name)s: %(message)s",
    )
    for noisy in ("amqp", "kombu", "werkzeug"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
