"""``onestop archive replay`` in the embedded shape (issue 17): it used to publish into
its own process's in-memory broker — reaching no consumer — and exit 0. Now each event is
applied to the queue's consumer in the command's process, through the inbox."""

from __future__ import annotations

import json

from click.testing import CliRunner
from sqlalchemy import func, select
from werkzeug.test import Client

from onestop.cli import main
from onestop.rebuild import wipe
from tests.factories import DEMO_DEMAND
from tests.support import wait_for

QUEUE = "scoring.on_demand_accepted"


def _env(settings) -> dict[str, str]:
    return {
        "ONESTOP_DATA_DIR": str(settings.data_dir),
        "ONESTOP_BROKER_URL": settings.broker_url,
    }


def test_replay_applies_the_events_to_the_consumer_here_once(platform, monkeypatch):
    c = Client(platform.wsgi)
    h = {"Authorization": f"Bearer {platform.creds['district']['key']}"}
    code = c.post("/intake/api/v1/demands", json=DEMO_DEMAND, headers=h).get_json()["code"]
    trace = f"/archive/api/v1/trace/{code}"
    wait_for(lambda: c.get(trace, headers=h).get_json().get("events"), timeout=10)
    assert platform.quiesce()
    svc, _ = wipe(platform.settings, "scoring")  # scoring forgets what it consumed
    inbox = svc.metadata_table("processed_events")

    def consumed() -> int:
        with svc.db.session() as s:
            return int(
                s.execute(
                    select(func.count()).select_from(inbox).where(inbox.c.consumer == QUEUE)
                ).scalar_one()
            )

    assert consumed() == 0
    for k, v in _env(platform.settings).items():
        monkeypatch.setenv(k, v)
    r = CliRunner().invoke(main, ["archive", "replay", QUEUE])
    assert r.exit_code == 0, r.output
    first = json.loads(r.output)
    assert first["sent"] >= 1 and consumed() == first["sent"]  # applied, not lost
    assert (first["applied"], first["duplicates"]) == (first["sent"], 0)
    again = json.loads(CliRunner().invoke(main, ["archive", "replay", QUEUE]).output)
    assert (again["applied"], again["duplicates"]) == (0, first["sent"])  # the inbox
    assert consumed() == first["sent"]
