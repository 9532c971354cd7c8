"""onestop.dashboards: the committed JSON is what the code generates, every query is
PromQL that promtool accepts, every service has its dashboard and the overview its
business row, and Grafana's provisioning finds them on the paths compose mounts."""

from __future__ import annotations

from pathlib import Path

import yaml

from onestop import dashboards
from tests.unit.deploy.support import DEPLOY, run

GRAFANA = DEPLOY / "grafana"


def titles(board: dict[str, object]) -> list[str]:
    return [p["title"] for p in board["panels"]]  # type: ignore[attr-defined,index]


def test_the_committed_json_is_what_the_code_generates() -> None:
    made = {name: dashboards.render(board) for name, board in dashboards.dashboards().items()}
    committed = {p.name: p.read_text(encoding="utf-8") for p in dashboards.OUT.glob("*.json")}
    assert sorted(committed) == sorted(made), "run `make dashboards` and commit the JSON"
    stale = [name for name in made if committed[name] != made[name]]
    assert stale == [], "run `make dashboards` and commit the JSON"


def test_write_replaces_the_json_and_removes_what_is_no_longer_made(tmp_path: Path) -> None:
    (tmp_path / "old.json").write_text("{}")
    (tmp_path / "intake.json").write_text('{"edited": "by hand"}')
    written = dashboards.write(tmp_path)
    assert sorted(p.name for p in tmp_path.glob("*.json")) == sorted(p.name for p in written)
    assert "old.json" not in {p.name for p in written}
    intake = (tmp_path / "intake.json").read_text()
    assert intake == dashboards.render(dashboards.service_dashboard("intake"))


def test_promtool_accepts_every_query(tmp_path: Path) -> None:
    """promtool cannot check a bare expression: each one becomes a recording rule."""
    exprs = [
        expr for board in dashboards.dashboards().values() for _, expr in dashboards.queries(board)
    ]
    rules = [{"record": f"dashboard:query{i}", "expr": e} for i, e in enumerate(exprs)]
    (tmp_path / "queries.yml").write_text(
        yaml.safe_dump({"groups": [{"name": "q", "rules": rules}]})
    )
    done = run("promtool", "check", "rules", "queries.yml", cwd=tmp_path)
    assert done.returncode == 0, done.stdout + done.stderr
    assert f"SUCCESS: {len(exprs)} rules found" in done.stdout


def test_promtool_rejects_a_broken_query(tmp_path: Path) -> None:
    rule = {"record": "dashboard:broken", "expr": "sum by (queue (rate(x[5m]))"}
    (tmp_path / "queries.yml").write_text(
        yaml.safe_dump({"groups": [{"name": "q", "rules": [rule]}]})
    )
    assert run("promtool", "check", "rules", "queries.yml", cwd=tmp_path).returncode != 0


def test_each_service_has_its_dashboard_with_red_per_endpoint() -> None:
    boards = dashboards.dashboards()
    assert sorted(boards) == sorted(["overview.json", *(f"{s}.json" for s in dashboards.SERVICES)])
    for service in dashboards.SERVICES:
        board = boards[f"{service}.json"]
        assert board["uid"] == f"onestop-{service}"
        queries = dict(dashboards.queries(board))
        for title in ("Requests per second", "5xx share", "p95 duration"):
            assert f'service="{service}"' in queries[title]
            assert "by (endpoint" in queries[title]
        events = {"Queue depth (ready: consumer lag)", "Outbox backlog", "Dead letters"}
        if service == "console":  # no worker, no queue
            assert events.isdisjoint(queries)
        else:
            assert events <= set(queries)
            assert f'queue=~"{service}\\\\..+"' in queries["Queue depth (ready: consumer lag)"]
            assert "dead_lettered" in queries["Consumer errors"]


def test_the_overview_has_the_platform_the_broker_and_the_business() -> None:
    board = dashboards.overview()
    rows = [p["title"] for p in board["panels"] if p["type"] == "row"]
    assert rows == ["Services", "Broker", "Business"]
    business = titles(board)[titles(board).index("Business") + 1 :]
    assert {
        "Demands per day",
        "Overdue demands",
        "Breaches per day, by kind",
        "Dispatch decisions per day, by outcome",
        "Cap overrides per day",
    } <= set(business)
    queries = dict(dashboards.queries(board))
    assert 'outcome="cap_override"' in queries["Cap overrides per day"]


def test_panels_have_unique_ids_query_ids_and_the_provisioned_data_source() -> None:
    datasource = yaml.safe_load((GRAFANA / "datasource.yml").read_text())["datasources"][0]
    uids = set()
    for board in dashboards.dashboards().values():
        uids.add(board["uid"])
        ids = [p["id"] for p in board["panels"]]
        assert len(ids) == len(set(ids)) and 0 not in ids
        for panel in board["panels"]:
            if panel["type"] == "row":
                continue
            assert panel["datasource"] == {"type": "prometheus", "uid": datasource["uid"]}
            refs = [t["refId"] for t in panel["targets"]]
            assert refs == ["A", "B", "C"][: len(refs)]
    assert len(uids) == len(dashboards.dashboards())


def test_grafana_provisions_the_folder_compose_mounts() -> None:
    config = yaml.safe_load((GRAFANA / "dashboards.yml").read_text())
    [provider] = config["providers"]
    assert provider["type"] == "file"
    assert provider["options"]["path"] == "/var/lib/grafana/dashboards"
    assert provider["allowUiUpdates"] is False
