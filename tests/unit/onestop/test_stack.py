"""The stack runner's environment for its processes (no process is started here)."""

from __future__ import annotations

from onestop.stack import Stack
from shared.config import SERVICES


def stack(tmp_path):
    return Stack(
        base=tmp_path,
        broker_url="amqp://guest:guest@127.0.0.1:1//",
        database_urls={n: f"sqlite:///{tmp_path / n}.db" for n in SERVICES},
    )


def test_the_operator_s_log_settings_reach_every_process_and_no_other_setting(
    tmp_path, monkeypatch
):
    monkeypatch.setenv("ONESTOP_LOG_FORMAT", "json")
    monkeypatch.setenv("ONESTOP_LOG_LEVEL", "DEBUG")
    monkeypatch.setenv("ONESTOP_INTAKE_DATABASE_URL", "sqlite:///elsewhere.db")
    env = stack(tmp_path).env("intake")
    assert env["ONESTOP_LOG_FORMAT"] == "json" and env["ONESTOP_LOG_LEVEL"] == "DEBUG"
    assert env["ONESTOP_INTAKE_DATABASE_URL"] == f"sqlite:///{tmp_path / 'intake'}.db"


def test_each_worker_serves_its_metrics_on_a_loopback_port_of_its_own(tmp_path, monkeypatch):
    monkeypatch.setenv("PROMETHEUS_MULTIPROC_DIR", str(tmp_path / "an-api-s"))
    s = stack(tmp_path)
    spawned = {}
    monkeypatch.setattr(s, "_spawn", lambda key, argv, env: spawned.setdefault(key, env))
    for name in SERVICES:
        s.start_worker(name)
    ports = {name: int(spawned[f"{name}-worker"]["ONESTOP_METRICS_PORT"]) for name in SERVICES}
    assert ports == s.metrics_ports and len(set(ports.values())) == len(SERVICES)
    assert {spawned[f"{n}-worker"]["ONESTOP_METRICS_ADDR"] for n in SERVICES} == {"127.0.0.1"}
    assert all("PROMETHEUS_MULTIPROC_DIR" not in env for env in spawned.values())
    # started again (a restart, a fault test), a worker keeps its port unless told otherwise
    spawned.clear()
    s.start_worker("dispatch")
    assert spawned["dispatch-worker"]["ONESTOP_METRICS_PORT"] == str(ports["dispatch"])
    spawned.clear()
    s.start_worker("dispatch", ONESTOP_METRICS_PORT="9999")
    assert spawned["dispatch-worker"]["ONESTOP_METRICS_PORT"] == "9999"


def test_services_that_never_learn_the_demo_keys_fail_the_start_with_their_workers_logs(
    tmp_path, monkeypatch
):
    import json

    import pytest

    import onestop.seed

    s = stack(tmp_path)
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "demo-credentials.json").write_text(json.dumps({}))
    (tmp_path / "logs").mkdir()
    (tmp_path / "logs" / "dispatch-worker.log").write_text("starting\nboom: the broker refused\n")

    def late(settings, creds, timeout):
        raise TimeoutError("the directory's keys have not reached dispatch: admin, visits: admin")

    monkeypatch.setattr(onestop.seed, "wait_for_copies", late)
    with pytest.raises(TimeoutError) as failed:
        s.wait_for_copies(timeout=0.1)
    text = str(failed.value)
    assert "boom: the broker refused" in text
    assert "visits-worker.log\n(no log)" in text
    assert "intake-worker" not in text
