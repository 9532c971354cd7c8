"""Two dispatch workers deciding at once against one PostgreSQL database keep the caps:
every decision saw every earlier one (replaying them in order gives the same choices)."""

from __future__ import annotations

import json
import threading
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from onestop import migrate
from services import dispatch
from services.dispatch import alliance
from services.dispatch.consumers import on_demand_accepted
from services.dispatch.models import decisions
from services.dispatch.seed import seed_responsibility
from shared.config import load_settings
from shared.events import make_event
from shared.timezone import china_today
from tests.factories import accepted_payload

pytestmark = pytest.mark.integration

AGENCIES = [
    ("p1", "专利一", "patent", 50),
    ("p2", "专利二", "patent", 30),
    ("p3", "专利三", "patent", 10),
]
ITEMS = ["ip_filing", "ip_portfolio", "ip_protection", "patent_use"]
MENU = [
    ("ip_filing", 3000, None, None),
    ("ip_portfolio", 12000, None, None),
    ("ip_protection", 8000, None, None),
    ("patent_use", 5000, None, None),
]


def test_two_workers_one_database_decide_as_if_one_after_another(postgres, tmp_path):
    env = {"ONESTOP_DATA_DIR": str(tmp_path)}
    for n in ("directory", "intake", "dispatch", "visits", "scoring", "archive"):
        env[f"ONESTOP_{n.upper()}_DATABASE_URL"] = postgres.create_database(f"conc_{n}")
    settings = load_settings(env)
    migrate.upgrade(settings, ("dispatch",))
    workers = [dispatch.build(settings), dispatch.build(settings)]  # two engines, two pools
    for w in workers:
        w.relay.notify = lambda: None
    seed_responsibility(
        workers[0].uow(), [("cd", "630102", "城东区", (), True)], [], AGENCIES, "630100", menu=MENU
    )
    due = (datetime.now(UTC) + timedelta(days=5)).isoformat()
    events = [
        make_event(
            "demand.accepted",
            1,
            producer="intake",
            jurisdiction="630102",
            payload=accepted_payload(
                demand_code=f"630102-2026-{i:06d}",
                category="ip",
                service_item=ITEMS[i % len(ITEMS)],
                agency_category="patent",
                expected_at=due,
            ),
        )
        for i in range(1, 81)
    ]
    barrier = threading.Barrier(2)
    errors: list[BaseException] = []

    def run(svc, mine):
        barrier.wait()
        try:
            for ev in mine:
                svc.inbox.apply(svc.uow, "dispatch.on_demand_accepted", ev, on_demand_accepted)
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [
        threading.Thread(target=run, args=(workers[0], events[0::2])),
        threading.Thread(target=run, args=(workers[1], events[1::2])),
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    assert not errors, errors
    with workers[0].db.session() as s:
        rows = s.execute(select(decisions).order_by(decisions.c.id)).mappings().all()
    assert len(rows) == 80
    # Replay: feed the same orders, in commit order, through the pure rules.
    members = [alliance.Agency(a, n, c, r) for a, n, c, r in AGENCIES]
    prices = {item: price for item, price, _, _ in MENU}
    tally = alliance.MonthTally()
    last = None
    for row in rows:
        d = alliance.select_agency(
            item=row["service_item"],
            agency_category="patent",
            price=prices[row["service_item"]],
            agencies=members,
            tally=tally,
            last_rotated=last,
            today=china_today(),
            rules=alliance.AllianceRules(),
        )
        assert (d.agency_id, d.outcome) == (row["agency_id"], row["outcome"]), json.loads(
            row["explanation"]
        )
        tally.record(d.agency_id, row["service_item"], prices[row["service_item"]])
        last = d.agency_id
    # and the caps held wherever they could: no rotation decision left anyone above them
    for agency_id in ("p1", "p2", "p3"):
        assert tally.value[agency_id] > 0
