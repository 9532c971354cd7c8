"""Dead letters kept, listed and re-driven; 503 with Retry-After while a database is down
(the embedded shape: SQLite and the in-process broker)."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner
from werkzeug.test import Client

from onestop import migrate
from onestop.cli import main as cli
from onestop.embedded import Platform
from onestop.localservers import free_port
from onestop.seed import seed_demo, wait_for_copies
from services.dispatch import consumers as dispatch_consumers
from shared.config import load_settings
from shared.messaging import KombuPublisher, exchange_for
from tests.factories import DEMO_DEMAND
from tests.support import wait_for

pytestmark = pytest.mark.e2e


@pytest.fixture
def broken_dispatch(monkeypatch):
    """Dispatch's handler of demand.accepted fails (a bug) until ``fixed`` is set."""
    state = {"fixed": False}
    real = dispatch_consumers.on_demand_accepted

    def on_demand_accepted(event, uow):
        if not state["fixed"]:
            raise RuntimeError("the responsibility map is misconfigured")
        real(event, uow)

    monkeypatch.setattr(dispatch_consumers, "on_demand_accepted", on_demand_accepted)
    return state


@pytest.fixture
def platform(embedded_settings, broken_dispatch):
    migrate.upgrade(embedded_settings)
    creds = seed_demo(embedded_settings)
    p = Platform(embedded_settings)
    p.start()
    wait_for_copies(embedded_settings, creds)
    p.creds = creds
    p.client = Client(p.wsgi)
    yield p
    p.stop()


def auth(p, role):
    return {"Authorization": f"Bearer {p.creds[role]['key']}"}


def letters(p, svc="dispatch", **query):
    r = p.client.get(f"/{svc}/api/v1/dead-letters", headers=auth(p, "admin"), query_string=query)
    assert r.status_code == 200, r.get_data(as_text=True)
    return r.get_json()["items"]


def assignments(p, code):
    r = p.client.get(
        f"/dispatch/api/v1/assignments?demand_code={code}", headers=auth(p, "district")
    )
    return r.get_json()["items"]


def test_a_failing_handler_is_dead_lettered_kept_and_redriven_once_after_the_fix(
    platform, broken_dispatch
):
    p = platform
    r = p.client.post("/intake/api/v1/demands", json=DEMO_DEMAND, headers=auth(p, "district"))
    assert r.status_code == 201
    code = r.get_json()["code"]
    [letter] = wait_for(lambda: letters(p, queue="dispatch.on_demand_accepted"), timeout=10)
    assert letter["event_type"] == "demand.accepted" and letter["attempts"] == 3
    assert letter["reason"] == "RuntimeError: the responsibility map is misconfigured"
    assert letter["status"] == "dead" and letter["times"] == 1
    full = p.client.get(
        f"/dispatch/api/v1/dead-letters/{letter['id']}", headers=auth(p, "admin")
    ).get_json()
    assert json.loads(full["body"])["payload"]["demand_code"] == code
    assert full["headers"]["x-onestop-queue"] == "dispatch.on_demand_accepted"
    assert assignments(p, code) == []
    # only a province's administrators see or re-drive dead letters
    for role in ("district", "staff"):
        r = p.client.get("/dispatch/api/v1/dead-letters", headers=auth(p, role))
        assert r.status_code == 403 and r.get_json()["error"]["code"] == "forbidden"
    r = p.client.post(
        "/dispatch/api/v1/dead-letters/redrive",
        json={"queue": "intake.on_visit_logged"},
        headers=auth(p, "admin"),
    )
    assert r.status_code == 422 and "queue" in r.get_json()["error"]["fields"]["json"]

    broken_dispatch["fixed"] = True
    r = p.client.post(
        "/dispatch/api/v1/dead-letters/redrive",
        json={"queue": "dispatch.on_demand_accepted", "ids": [letter["id"], 999]},
        headers=auth(p, "admin"),
    )
    assert r.status_code == 200, r.get_data(as_text=True)
    out = r.get_json()
    assert out["redriven"] == [letter["id"]] and [s["id"] for s in out["skipped"]] == [999]
    [a] = wait_for(lambda: assignments(p, code), timeout=10)
    assert a["demand_code"] == code
    # archived: the re-drive is in the demand's trace, after its assignment
    trace = wait_for(
        lambda: (
            [
                e["event_type"]
                for e in p.client.get(
                    f"/archive/api/v1/trace/{code}", headers=auth(p, "district")
                ).get_json()["events"]
            ]
            if "dead_letter.redriven"
            in str(
                p.client.get(
                    f"/archive/api/v1/trace/{code}", headers=auth(p, "district")
                ).get_json()
            )
            else None
        ),
        timeout=10,
    )
    assert trace.count("demand.accepted") == 1 and trace.count("dead_letter.redriven") == 1
    assert trace.count("assignment.made") == 1
    assert letters(p, queue="dispatch.on_demand_accepted") == []
    [done] = letters(p, queue="dispatch.on_demand_accepted", status="redriven")
    assert done["redriven_by"].startswith("admin:")
    # a second re-drive finds nothing dead; re-publishing the event changes nothing
    again = p.client.post(
        "/dispatch/api/v1/dead-letters/redrive",
        json={"queue": "dispatch.on_demand_accepted"},
        headers=auth(p, "admin"),
    ).get_json()
    assert again["redriven"] == [] and again["skipped"] == []
    assert p.quiesce()
    assert len(assignments(p, code)) == 1


def test_poison_is_kept_with_its_reason_and_cannot_be_redriven(platform, broken_dispatch):
    p = platform
    broken_dispatch["fixed"] = True
    pub = KombuPublisher(p.settings.broker_url)
    pub.publish(
        exchange_for("intake"),
        "demand.accepted.630000.630100.630102",
        '{"not": "an event"}',
        {"event_type": "demand.accepted"},
    )
    pub.close()
    [letter] = wait_for(lambda: letters(p, queue="dispatch.on_demand_accepted"), timeout=10)
    assert letter["reason"].startswith("invalid event") and letter["attempts"] == 1
    # every consumer of demand.accepted kept its own
    assert wait_for(lambda: letters(p, "archive"), timeout=10)[0]["queue"] == "archive.all_events"
    r = p.client.post(
        "/dispatch/api/v1/dead-letters/redrive",
        json={"queue": "dispatch.on_demand_accepted"},
        headers=auth(p, "admin"),
    ).get_json()
    assert r["redriven"] == [] and r["skipped"][0]["reason"].startswith("not an event")


def test_the_cli_lists_and_shows_dead_letters_and_refuses_the_embedded_broker(
    platform, broken_dispatch, monkeypatch
):
    p = platform
    p.client.post("/intake/api/v1/demands", json=DEMO_DEMAND, headers=auth(p, "district"))
    [letter] = wait_for(lambda: letters(p, queue="dispatch.on_demand_accepted"), timeout=10)
    monkeypatch.setenv("ONESTOP_DATA_DIR", str(p.settings.data_dir))
    monkeypatch.setenv("ONESTOP_BROKER_URL", p.settings.broker_url)
    runner = CliRunner()
    out = runner.invoke(cli, ["dlq", "list", "dispatch.on_demand_accepted"])
    assert out.exit_code == 0, out.output
    assert [json.loads(line)["id"] for line in out.output.splitlines()] == [letter["id"]]
    out = runner.invoke(cli, ["dlq", "list"])  # every service's
    assert letter["id"] in [json.loads(line)["id"] for line in out.output.splitlines()]
    out = runner.invoke(cli, ["dlq", "show", "dispatch.on_demand_accepted", "--id", "1"])
    assert out.exit_code == 0 and json.loads(out.output)["headers"]["x-onestop-attempts"] == 3
    out = runner.invoke(cli, ["dlq", "show", "dispatch.nowhere", "--id", "1"])
    assert out.exit_code != 0
    out = runner.invoke(cli, ["dlq", "redrive", "dispatch.on_demand_accepted"])
    assert out.exit_code != 0 and "embedded broker" in out.output
    out = runner.invoke(cli, ["dlq", "list", "nowhere"])
    assert out.exit_code == 2 and "not a consumer queue" in out.output


def test_a_database_that_is_down_answers_503_with_retry_after(embedded_settings):
    """Intake's database unreachable (a closed port): every call is a 503 in the one
    error format, with Retry-After, and /readyz says which dependency is down."""
    from services.intake.app import create_app

    migrate.upgrade(embedded_settings)
    creds = seed_demo(embedded_settings)
    urls = dict(embedded_settings.database_urls)
    urls["intake"] = f"postgresql+psycopg://onestop@127.0.0.1:{free_port()}/intake"
    env = {
        "ONESTOP_DATA_DIR": str(embedded_settings.data_dir),
        "ONESTOP_BROKER_URL": embedded_settings.broker_url,
        "ONESTOP_INTAKE_DATABASE_URL": urls["intake"],
    }
    app = create_app(load_settings(env))
    c = app.test_client()
    h = {"Authorization": f"Bearer {creds['district']['key']}", "Idempotency-Key": "down-1"}
    for method, path, body in [
        ("post", "/api/v1/demands", DEMO_DEMAND),
        ("get", "/api/v1/demands", None),
        ("get", "/api/v1/dead-letters", None),
    ]:
        r = getattr(c, method)(path, json=body, headers=h)
        assert r.status_code in (503, 403), (path, r.get_data(as_text=True))
        if path != "/api/v1/dead-letters":
            assert r.status_code == 503 and r.headers["Retry-After"] == "5"
            err = r.get_json()["error"]
            assert err["code"] == "unavailable" and "database" in err["message"]
    r = c.get("/readyz")
    assert r.status_code == 503
    assert r.get_json()["checks"] == {"database": "unavailable", "broker": "ok"}
