"""docker-compose.yml for production: valid against the compose specification
(check-jsonschema's vendored compose-spec schema), every image pinned, the demo seed only
behind the `demo` profile, a healthcheck on every long-running service and every
depends_on waiting for a healthy or finished service."""

from __future__ import annotations

import copy
import shutil
import subprocess
import sys
from functools import cache
from pathlib import Path
from typing import Any

import pytest
import yaml
from click.testing import CliRunner

from onestop.cli import main
from tests.unit.deploy.support import DEPLOY, ROOT

COMPOSE = ROOT / "docker-compose.yml"


@cache
def _load() -> dict[str, Any]:
    doc = yaml.safe_load(COMPOSE.read_text())
    assert isinstance(doc, dict)
    return doc


def compose() -> dict[str, Any]:
    return copy.deepcopy(_load())


def _pinned(image: str) -> bool:
    if "@sha256:" in image:
        return True
    tag = image.rsplit("/", 1)[-1].partition(":")[2]
    return bool(tag) and tag != "latest" and "$" not in tag


def _one_shot(service: dict[str, Any]) -> bool:
    return service.get("restart") == "no"


def problems(doc: dict[str, Any]) -> list[str]:
    """Every rule the compose file breaks."""
    out: list[str] = []
    services: dict[str, dict[str, Any]] = doc["services"]
    for name, s in services.items():
        if not _pinned(s.get("image", "")):
            out.append(f"{name}: image {s.get('image')!r} is not pinned to a tag or digest")
        command = " ".join(map(str, s.get("command", [])))
        if "seed-demo" in command and "demo" not in s.get("profiles", []):
            out.append(f"{name}: runs the demo seed outside the demo profile")
        check = s.get("healthcheck", {})
        if not _one_shot(s) and (not check.get("test") or check.get("disable")):
            out.append(f"{name}: long-running without a healthcheck")
        depends = s.get("depends_on", {})
        if isinstance(depends, list):
            out.append(f"{name}: depends_on without a condition")
            continue
        for target, how in depends.items():
            condition = how.get("condition")
            other = services.get(target)
            if other is None:
                out.append(f"{name}: depends on a missing service {target}")
            elif condition == "service_healthy":
                if _one_shot(other) or not other.get("healthcheck", {}).get("test"):
                    out.append(f"{name}: waits for {target} to be healthy; it has no healthcheck")
            elif condition == "service_completed_successfully":
                if not _one_shot(other):
                    out.append(f"{name}: waits for {target} to finish; it runs for ever")
            else:
                out.append(f"{name}: depends on {target} only being started ({condition})")
            if other is not None and other.get("profiles") and not s.get("profiles"):
                out.append(f"{name}: depends on {target}, which only a profile starts")
    return out


def check_spec(path: Path) -> subprocess.CompletedProcess[str]:
    """check-jsonschema against its vendored compose specification."""
    argv = [sys.executable, "-m", "check_jsonschema", "--builtin-schema", "vendor.compose-spec"]
    return subprocess.run([*argv, str(path)], capture_output=True, text=True, timeout=120)


def test_the_compose_file_matches_the_compose_specification() -> None:
    r = check_spec(COMPOSE)
    assert r.returncode == 0, r.stdout + r.stderr


def test_the_specification_check_catches_a_wrong_file(tmp_path) -> None:
    doc = compose()
    doc["services"]["gateway"]["healthcheck"]["retries"] = "three"
    doc["services"]["gateway"]["depends_on"]["console"]["condition"] = "service_ready"
    bad = tmp_path / "docker-compose.yml"
    bad.write_text(yaml.safe_dump(doc))
    r = check_spec(bad)
    assert r.returncode == 1 and "service_ready" in r.stdout, r.stdout + r.stderr


def test_the_compose_file_keeps_the_rules() -> None:
    assert problems(compose()) == []


def test_the_rules_catch_a_file_that_breaks_them() -> None:
    doc = compose()
    s = doc["services"]
    s["grafana"]["image"] = "grafana/grafana"
    s["prometheus"]["image"] = "prom/prometheus:latest"
    s["migrate"]["command"] = ["sh", "-c", "onestop migrate && onestop seed-demo"]
    del s["intake-worker"]["healthcheck"]
    s["gateway"]["depends_on"] = ["intake-api"]
    s["grafana"]["depends_on"]["migrate"] = {"condition": "service_healthy"}
    s["alertmanager"]["depends_on"]["mailpit"] = {"condition": "service_started"}
    s["intake-api"]["depends_on"]["seed-demo"] = {"condition": "service_completed_successfully"}
    found = "\n".join(problems(doc))
    for expected in (
        "grafana: image 'grafana/grafana' is not pinned",
        "prometheus: image 'prom/prometheus:latest' is not pinned",
        "migrate: runs the demo seed outside the demo profile",
        "intake-worker: long-running without a healthcheck",
        "gateway: depends_on without a condition",
        "grafana: waits for migrate to be healthy; it has no healthcheck",
        "alertmanager: depends on mailpit only being started",
        "intake-api: depends on seed-demo, which only a profile starts",
    ):
        assert expected in found


def test_the_demo_seed_runs_only_in_the_demo_profile_after_migrate() -> None:
    s = compose()["services"]
    assert s["migrate"]["command"] == ["onestop", "migrate"]
    seeds = [n for n, v in s.items() if "seed-demo" in " ".join(map(str, v.get("command", [])))]
    assert seeds == ["seed-demo"]
    assert s["seed-demo"]["profiles"] == ["demo"]
    assert s["seed-demo"]["command"] == ["onestop", "seed-demo"]
    assert s["seed-demo"]["depends_on"] == {
        "migrate": {"condition": "service_completed_successfully"}
    }


def test_what_the_migrate_service_runs_prints_no_key(tmp_path, monkeypatch) -> None:
    """`onestop migrate` (the one-shot of every start) says what it migrated and nothing
    else: no key, and no demo-credentials.json (that is `seed-demo`'s, in the demo profile)."""
    monkeypatch.setenv("ONESTOP_DATA_DIR", str(tmp_path / "var"))
    r = CliRunner().invoke(main, ["migrate"])
    assert r.exit_code == 0, r.output
    assert r.output.splitlines() == [
        "migrated: directory, intake, dispatch, visits, scoring, archive"
    ]
    assert not (tmp_path / "var" / "demo-credentials.json").exists()
    seeded = CliRunner().invoke(main, ["seed-demo"])  # the demo profile's: it does print keys
    assert seeded.exit_code == 0 and '"admin"' in seeded.output


def test_observability_is_provisioned_and_reaches_people() -> None:
    s = compose()["services"]
    mounts = set(s["grafana"]["volumes"])
    assert (
        "./deploy/grafana/dashboards.yml:/etc/grafana/provisioning/dashboards/onestop.yml:ro"
        in mounts
    )
    assert "./deploy/grafana/dashboards:/var/lib/grafana/dashboards:ro" in mounts
    assert (
        "./deploy/alertmanager/alertmanager.yml:/etc/alertmanager/alertmanager.yml:ro"
        in s["alertmanager"]["volumes"]
    )
    assert s["prometheus"]["depends_on"]["alertmanager"] == {"condition": "service_healthy"}
    assert "mailpit" in s["alertmanager"]["depends_on"]
    for name, service in s.items():
        for volume in service.get("volumes", []):
            source = volume.split(":")[0]
            if source.startswith("./"):
                path = source[2:]
                assert (ROOT / path).exists(), f"{name}: {source}"


def test_onestop_containers_log_json() -> None:
    s = compose()["services"]
    for name, service in s.items():
        if str(service.get("image", "")).startswith("onestop:"):
            assert service["environment"]["ONESTOP_LOG_FORMAT"] == "json", name


def test_docker_compose_accepts_the_file() -> None:
    """`docker compose config` where the compose plugin is installed (it needs no engine)."""
    docker = shutil.which("docker")
    if (
        docker is None
        or subprocess.run([docker, "compose", "version"], capture_output=True).returncode
    ):
        pytest.skip("the docker compose plugin is not installed")
    r = subprocess.run(
        [docker, "compose", "-f", str(COMPOSE), "--profile", "demo", "config", "-q"],
        capture_output=True,
        text=True,
        cwd=DEPLOY.parent,
        timeout=60,
    )
    assert r.returncode == 0, r.stderr
