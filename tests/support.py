"""Helpers every kind of test uses (not fixtures: those are in the conftest files).

``need`` skips a test whose real server is not installed — and fails it under CI
(``CI=true``), where every server must be there.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

REAL_SERVERS: list[str] = []  # the real servers the suite started (said in its summary)
FAULT_REPORTS: list[Any] = []  # bench.faults.Report of each fault test


def need(available: bool, what: str) -> None:
    if not available:
        msg = f"{what} is not installed (apt-get install {what})"
        if os.environ.get("CI"):
            pytest.fail(msg)
        pytest.skip(msg)


def reset_in_process_broker() -> None:
    """kombu's ``memory://`` transport keeps one broker per process, whatever the
    virtual host in the URL: empty it so a test never sees another test's messages."""
    from kombu.transport import memory

    memory.Transport.global_state.clear()
    memory.Channel.queues.clear()
    memory.Channel.events.clear()


def wait_for(predicate: Callable[[], Any], timeout: float = 10.0, interval: float = 0.05) -> Any:
    """Poll until ``predicate()`` is truthy; fail with the last value otherwise."""
    deadline = time.monotonic() + timeout
    value = None
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(interval)
    raise AssertionError(f"condition not met within {timeout}s (last value: {value!r})")


def read_credentials(data_dir: Path) -> dict[str, dict[str, str]]:
    return json.loads((data_dir / "demo-credentials.json").read_text())


def assert_code_columns(metadata: Any, unit_codes: list[str], demand_codes: list[str]) -> None:
    """A service's tables hold any unit code of the tree (``shared.directory.CODE_LENGTH``)
    and a demand code filed in the deepest unit, in exactly the columns named — and no
    other column is named like one."""
    from shared.contracts.intake import DEMAND_CODE_LENGTH
    from shared.directory import CODE_LENGTH

    def width(name: str) -> int:
        table, column = name.split(".")
        return int(metadata.tables[table].c[column].type.length)

    assert {n: width(n) for n in unit_codes} == dict.fromkeys(unit_codes, CODE_LENGTH)
    assert {n: width(n) for n in demand_codes} == dict.fromkeys(demand_codes, DEMAND_CODE_LENGTH)
    unit_like = ("jurisdiction", "city", "county", "linked_city", "enterprise_jurisdiction")
    named = {
        f"{t.name}.{c.name}"
        for t in metadata.sorted_tables
        if t.name not in ("jurisdictions", "api_keys")
        for c in t.columns
        if c.name in unit_like
    }
    assert named <= set(unit_codes), named - set(unit_codes)
    codes = {
        f"{t.name}.{c.name}"
        for t in metadata.sorted_tables
        for c in t.columns
        if c.name in ("demand_code", "last_demand_code")
    }
    assert codes <= set(demand_codes), codes - set(demand_codes)
