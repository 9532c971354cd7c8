"""Log lines: the text and JSON formats, and the scope that keeps ids from going stale."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Iterator

import pytest

from shared.config import load_settings
from shared.logs import (
    CorrelationFilter,
    acting,
    correlation_id,
    formatter,
    scope,
    service,
    setup_logging,
)


@pytest.fixture
def lines() -> Iterator[tuple[logging.Logger, io.StringIO, logging.Handler]]:
    """A logger writing through the platform's filter into a buffer."""
    out = io.StringIO()
    handler = logging.StreamHandler(out)
    handler.addFilter(CorrelationFilter())
    logger = logging.getLogger("onestop.test.logs")
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    logger.propagate = False
    yield logger, out, handler
    logger.removeHandler(handler)


def records(out: io.StringIO) -> list[dict[str, object]]:
    return [json.loads(line) for line in out.getvalue().splitlines()]


def test_a_json_line_has_every_field(lines):
    logger, out, handler = lines
    handler.setFormatter(formatter("json"))
    with scope("req-1", ("osk_abc", "person-9"), "intake"):
        logger.info("demand %s accepted", "D1")
    (line,) = records(out)
    assert line["message"] == "demand D1 accepted"
    assert line["level"] == "INFO" and line["logger"] == "onestop.test.logs"
    assert line["service"] == "intake" and line["correlation_id"] == "req-1"
    assert line["actor"] == "osk_abc<person-9"
    assert line["thread"] == "MainThread"
    assert str(line["time"]).endswith("+00:00")  # UTC, ISO 8601
    assert "exception" not in line


def test_a_json_line_carries_the_exception_text(lines):
    logger, out, handler = lines
    handler.setFormatter(formatter("json"))
    try:
        raise RuntimeError("boom")
    except RuntimeError:
        logger.exception("failed")
    (line,) = records(out)
    assert "Traceback" in str(line["exception"]) and "RuntimeError: boom" in str(line["exception"])


def test_outside_a_scope_json_has_nulls_and_text_has_dashes(lines):
    logger, out, handler = lines
    handler.setFormatter(formatter("json"))
    logger.info("idle")
    (line,) = records(out)
    assert line["correlation_id"] is None and line["actor"] is None and line["service"] is None
    handler.setFormatter(formatter("text"))
    logger.info("idle")
    assert "cid=- actor=-: idle" in out.getvalue().splitlines()[-1]


def test_a_scope_puts_back_what_was_there_whatever_was_set_inside():
    assert correlation_id.get() == "-"
    with scope("outer", None, "console"):
        with scope("inner", None, "intake"):
            correlation_id.set("changed-inside")
            acting.set(("someone", None))
        assert (correlation_id.get(), acting.get(), service.get()) == ("outer", None, "console")
    assert (correlation_id.get(), acting.get(), service.get()) == ("-", None, None)


def test_an_exception_leaves_the_scope_too():
    with pytest.raises(ValueError), scope("req-2"):
        raise ValueError
    assert correlation_id.get() == "-"


def test_setup_logging_switches_the_format_of_its_one_handler():
    root = logging.getLogger()
    before = list(root.handlers)
    level = root.level
    try:
        setup_logging("INFO", "json")
        setup_logging("INFO", "json")
        ours = [
            h for h in root.handlers if any(isinstance(f, CorrelationFilter) for f in h.filters)
        ]
        assert len(ours) == 1
        assert isinstance(ours[0].formatter, logging.Formatter)
        assert type(ours[0].formatter).__name__ == "JsonLines"
        setup_logging("INFO", "text")
        assert type(ours[0].formatter) is logging.Formatter
    finally:
        for h in [h for h in root.handlers if h not in before]:
            root.removeHandler(h)
        root.setLevel(level)


def test_the_format_setting_is_text_by_default_and_checked():
    assert load_settings({}).log_format == "text"
    assert load_settings({"ONESTOP_LOG_FORMAT": "JSON"}).log_format == "json"
    with pytest.raises(ValueError, match="ONESTOP_LOG_FORMAT must be one of text, json"):
        load_settings({"ONESTOP_LOG_FORMAT": "xml"})
    with pytest.raises(ValueError):
        formatter("xml")
