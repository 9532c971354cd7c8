"""``onestop archive replay`` says why when it cannot deliver (issue 17): a queue no
service here consumes in the embedded shape (whose broker lives inside ``onestop run``),
and a replay that routes nothing to its queue, are not a success."""

import json

import pytest
from click.testing import CliRunner

from onestop import migrate
from onestop.cli import main
from services import archive as archive_service
from services.archive.handlers import on_any_event
from shared.config import load_settings
from shared.outbox import Inbox
from tests.unit.archive.conftest import archived_event
from tests.unit.archive.test_replays import FakePublisher


def test_the_embedded_shape_refuses_a_queue_no_service_here_consumes(tmp_path, monkeypatch):
    """In the embedded shape the command applies events to the queue's consumer in its own
    process (tests/e2e/test_archive_replay_cli.py); a queue the topology names but no
    service consumes (an agency's) cannot be replayed here, and the command says why."""
    monkeypatch.setenv("ONESTOP_DATA_DIR", str(tmp_path / "var"))
    monkeypatch.delenv("ONESTOP_BROKER_URL", raising=False)  # the embedded default
    queues = {"agency.ag-1": [("dispatch", "agency.order_placed.ag-1")]}
    monkeypatch.setattr("services.archive.replays.known_queues", lambda settings: queues)
    r = CliRunner().invoke(main, ["archive", "replay", "agency.ag-1"])
    assert r.exit_code == 1, r.output
    assert "no service of this platform consumes 'agency.ag-1'" in r.output
    assert "embedded shape" in r.output and "POST /archive/api/v1/replay" in r.output
    unknown = CliRunner().invoke(main, ["archive", "replay", "scoring.nowhere"])
    assert unknown.exit_code == 1 and "Unknown consumer queue 'scoring.nowhere'" in unknown.output


@pytest.fixture
def stack_shape(tmp_path, monkeypatch):
    """The CLI's settings of the stack shape (an AMQP broker URL, SQLite archive), three
    demands archived, and a fake publisher in place of the broker."""
    env = {"ONESTOP_DATA_DIR": str(tmp_path / "var"), "ONESTOP_BROKER_URL": "amqp://nowhere//"}
    for k, v in env.items():
        monkeypatch.setenv(k, v)
    settings = load_settings(env)
    migrate.upgrade(settings, ("archive",))
    svc = archive_service.build(settings)
    inbox = Inbox(svc.metadata_table("processed_events"))
    for i in range(3):
        event = archived_event("demand.accepted", {"demand_code": f"630102-2026-{i:06d}"})
        assert inbox.apply(svc.uow, "archive.all_events", event, on_any_event)
    publisher = FakePublisher()
    monkeypatch.setattr("services.archive.replays.broker", lambda settings: publisher.open)
    return publisher


def test_a_replay_that_routes_nothing_exits_1_and_says_why(stack_shape):
    r = CliRunner().invoke(main, ["archive", "replay", "dispatch.on_enterprise"])
    assert r.exit_code == 1, r.output
    first = r.output.splitlines()[0]
    assert json.loads(first) == {"queue": "dispatch.on_enterprise", "sent": 0, "not_routed": 3}
    assert "none of the 3 archived events" in r.output and "its bindings:" in r.output
    assert stack_shape.sent == []


def test_a_replay_that_sends_exits_0(stack_shape):
    r = CliRunner().invoke(main, ["archive", "replay", "visits.on_demand_accepted"])
    assert r.exit_code == 0, r.output
    assert json.loads(r.output)["sent"] == 3 and len(stack_shape.sent) == 3
