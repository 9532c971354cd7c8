"""deploy/alerts.yml: promtool checks it and runs its unit tests (deploy/alerts.test.yml,
deploy/alerts.day.test.yml); every alert has a case that fires and one that does not, and
each firing case fails when its alert cannot fire."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import yaml

from tests.unit.deploy.support import DEPLOY, run

RULES = yaml.safe_load((DEPLOY / "alerts.yml").read_text())
TEST_FILES = ("alerts.test.yml", "alerts.day.test.yml")
CASES = [yaml.safe_load((DEPLOY / name).read_text()) for name in TEST_FILES]
ALERTS = [r["alert"] for g in RULES["groups"] for r in g["rules"] if "alert" in r]
# The rule before issue 17: increase() alone, which misses a queue's first dead letter.
OLD_DEAD_LETTER_EXPR = (
    'label_replace(sum by (queue, event_type) (increase(onestop_events_consumed_total{outcome="'
    'dead_lettered"}[10m])), "service", "$1", "queue", "([^.]+)\\\\..*") > 0'
)


def alert_cases() -> list[dict[str, Any]]:
    return [case for cases in CASES for test in cases["tests"] for case in test["alert_rule_test"]]


def with_exprs(tmp_path: Path, exprs: dict[str, str]) -> Path:
    """A copy of the rules and their tests in ``tmp_path``, the alerts named in ``exprs``
    given those expressions."""
    rules = yaml.safe_load((DEPLOY / "alerts.yml").read_text())
    for rule in (r for g in rules["groups"] for r in g["rules"] if r.get("alert") in exprs):
        rule["expr"] = exprs[rule["alert"]]
    (tmp_path / "alerts.yml").write_text(yaml.safe_dump(rules))
    for name in TEST_FILES:
        shutil.copy(DEPLOY / name, tmp_path)
    return tmp_path


def test_promtool_checks_the_rules() -> None:
    done = run("promtool", "check", "rules", "alerts.yml")
    assert done.returncode == 0, done.stdout + done.stderr
    assert f"SUCCESS: {len(ALERTS)} rules found" in done.stdout


def test_the_rules_pass_their_unit_tests() -> None:
    done = run("promtool", "test", "rules", *TEST_FILES)
    assert done.returncode == 0, done.stdout + done.stderr
    assert done.stdout.count("SUCCESS") == len(TEST_FILES)


def test_every_alert_has_a_case_that_fires_and_one_that_does_not() -> None:
    cases = alert_cases()
    fires = {c["alertname"] for c in cases if c.get("exp_alerts")}
    quiet = {c["alertname"] for c in cases if not c.get("exp_alerts")}
    assert sorted(fires) == sorted(ALERTS)
    assert sorted(quiet) == sorted(ALERTS)
    assert len(cases) >= 2 * len(ALERTS)


def test_every_firing_case_fails_when_its_alert_cannot_fire(tmp_path: Path) -> None:
    cwd = with_exprs(tmp_path, dict.fromkeys(ALERTS, "vector(0) > 1"))
    done = run("promtool", "test", "rules", *TEST_FILES, cwd=cwd)
    out = done.stdout + done.stderr
    assert done.returncode != 0
    assert [a for a in ALERTS if f"alertname: {a}," not in out] == []


def test_the_old_dead_letter_rule_misses_a_queues_first_dead_letter(tmp_path: Path) -> None:
    """The series is born at 1: increase() sees one sample and nothing to increase."""
    cwd = with_exprs(tmp_path, {"OnestopEventsDeadLettered": OLD_DEAD_LETTER_EXPR})
    done = run("promtool", "test", "rules", *TEST_FILES, cwd=cwd)
    out = done.stdout + done.stderr
    assert done.returncode != 0
    assert "alertname: OnestopEventsDeadLettered, time: 3m," in out  # the first dead letter
    assert "alertname: OnestopEventsDeadLettered, time: 22m," not in out  # later ones: fine


def test_promtool_checks_the_prometheus_config() -> None:
    done = run("promtool", "check", "config", "prometheus.yml")
    assert done.returncode == 0, done.stdout + done.stderr
    assert "SUCCESS: 1 rule files found" in done.stdout


def test_prometheus_sends_alerts_to_alertmanager_and_scrapes_the_broker() -> None:
    config = yaml.safe_load((DEPLOY / "prometheus.yml").read_text())
    [am] = config["alerting"]["alertmanagers"]
    assert am["static_configs"] == [{"targets": ["alertmanager:9093"]}]
    jobs = {j["job_name"]: j for j in config["scrape_configs"]}
    assert jobs["rabbitmq"]["static_configs"] == [{"targets": ["rabbitmq:15692"]}]
    queues = jobs["rabbitmq-queues"]
    assert queues["metrics_path"] == "/metrics/detailed"
    assert queues["params"]["family"] == ["queue_coarse_metrics", "queue_consumer_count"]
    api_targets = [t for s in jobs["onestop-api"]["static_configs"] for t in s["targets"]]
    assert "console:8000" in api_targets
