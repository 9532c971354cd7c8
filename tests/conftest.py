"""Shared fixtures: settings for the embedded shape, real servers for integration.

PostgreSQL and RabbitMQ are started by the suite itself on free loopback ports
with throwaway data directories. Where the Debian packages are missing the
integration tests are skipped locally, but under CI (``CI=true``) a missing
server is a failure.
"""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, settings

import shared.contracts  # noqa: F401
from onestop.localservers import Postgres, RabbitMQ, free_port
from shared.config import Settings, load_settings
from tests.support import FAULT_REPORTS, REAL_SERVERS, need, reset_in_process_broker

# The machine is shared with real servers and other suites: input generation may be
# slow for reasons that are not the code's, and that must not fail a property test.
settings.register_profile("onestop", deadline=None, suppress_health_check=[HealthCheck.too_slow])
settings.load_profile("onestop")


@pytest.fixture
def embedded_settings(tmp_path: Path) -> Settings:
    reset_in_process_broker()
    return load_settings(
        {
            "ONESTOP_DATA_DIR": str(tmp_path / "var"),
            "ONESTOP_BROKER_URL": f"memory://localhost/{tmp_path.name}",
            "ONESTOP_SWEEP_INTERVAL": "0.2",
            "ONESTOP_RETRY_BACKOFF": "0.01",
            "ONESTOP_MAX_ATTEMPTS": "3",
            "ONESTOP_CREDENTIAL_CACHE": "1",
        }
    )


@pytest.fixture
def quiet_service(embedded_settings: Settings, monkeypatch: pytest.MonkeyPatch) -> Any:
    """``quiet_service(name)``: that service migrated on the embedded settings, its relay
    publishing only when a test calls it (no wake-up thread)."""
    import importlib

    from onestop import migrate

    def make(name: str) -> Any:
        migrate.upgrade(embedded_settings, (name,))
        svc = importlib.import_module(f"services.{name}").build(embedded_settings)
        monkeypatch.setattr(svc.relay, "notify", lambda: None)
        return svc

    return make


def pytest_terminal_summary(terminalreporter: Any) -> None:
    """Say which real servers the integration, e2e and fault tests ran against, and
    what each fault run counted."""
    if REAL_SERVERS:
        terminalreporter.section("real servers started by the suite")
        for line in REAL_SERVERS:
            terminalreporter.write_line(line)
    if FAULT_REPORTS:
        from bench.faults import table

        terminalreporter.section("fault runs (tests/fault)")
        for line in table(FAULT_REPORTS).splitlines():
            terminalreporter.write_line(line)


@pytest.fixture(scope="session")
def postgres() -> Iterator[Postgres]:
    need(Postgres.available(), "postgresql")
    # Never killed, and its data is thrown away: no crash safety needed (fast settings).
    # The fault tests run their own durable server.
    pg = Postgres(durable=False).start()  # under /tmp: the postgres user must reach it
    version = subprocess.run(
        [f"{pg.bindir}/postgres", "--version"], capture_output=True, text=True
    ).stdout.strip()
    REAL_SERVERS.append(f"{version} on 127.0.0.1:{pg.port} (data {pg.base})")
    yield pg
    pg.destroy()


@pytest.fixture(scope="session")
def rabbitmq() -> Iterator[RabbitMQ]:
    need(RabbitMQ.available(), "rabbitmq-server")
    mq = RabbitMQ(management_port=free_port()).start()  # the API provisions agency users
    from kombu import Connection

    with Connection(mq.url) as conn:
        conn.connect()
        props = conn.connection.server_properties
    REAL_SERVERS.append(
        f"RabbitMQ {props.get('version')} (Erlang node {mq.nodename}) on "
        f"127.0.0.1:{mq.port} (data {mq.base})"
    )
    yield mq
    mq.destroy()
