"""The inbox's batch claim on a real PostgreSQL (``Inbox.apply_batch``): one statement over
arrays tells the new events from those already processed by this consumer, or met earlier
in the same batch; another consumer's record does not count."""

from __future__ import annotations

import pytest
from sqlalchemy import MetaData, select

import shared.contracts.intake  # noqa: F401  (registers the schemas)
from onestop.localservers import Postgres
from shared.db import Database, UnitOfWork
from shared.events import make_event
from shared.outbox import Inbox, add_outbox_tables

pytestmark = pytest.mark.integration


@pytest.fixture
def db():
    if not Postgres.available():
        pytest.skip("PostgreSQL is not installed")
    pg = Postgres(durable=False).start()
    metadata = MetaData()
    add_outbox_tables(metadata)
    database = Database(pg.create_database("inbox"), metadata)
    metadata.create_all(database.engine)
    yield database
    database.dispose()
    pg.destroy()


def event(n: int):
    return make_event(
        "demand.revisited",
        1,
        producer="intake",
        jurisdiction="630102",
        payload={
            "demand_code": f"630102-2026-{n:06d}",
            "rating": 5,
            "comment": "满意",
            "reopened": False,
            "actor": "k",
            "at": "2026-12-01T08:00:00+00:00",
        },
    )


def test_a_batch_claims_only_what_this_consumer_has_not_processed(db):
    table = db.metadata.tables["processed_events"]
    inbox = Inbox(table)
    outbox = db.metadata.tables["outbox"]
    handled: list[tuple[str, str]] = []

    def handler(consumer: str):
        return lambda e, uow: handled.append((consumer, e.event_id))

    one, two, three = event(1), event(2), event(3)
    uow = lambda: UnitOfWork(db, outbox)  # noqa: E731
    assert inbox.apply_batch(uow, "a", [one, two], handler("a")) == [True, True]
    # already processed, new, new and a second copy of it in the same batch
    answer = inbox.apply_batch(uow, "a", [two, three, one, three], handler("a"))
    assert answer == [False, True, False, False]
    assert inbox.apply_batch(uow, "b", [one], handler("b")) == [True]  # another consumer
    assert handled == [
        ("a", one.event_id),
        ("a", two.event_id),
        ("a", three.event_id),
        ("b", one.event_id),
    ]
    with db.reading() as s:
        rows = s.execute(select(table.c.consumer, table.c.event_id, table.c.event_type)).all()
    assert sorted(rows) == sorted(
        [
            ("a", one.event_id, "demand.revisited"),
            ("a", two.event_id, "demand.revisited"),
            ("a", three.event_id, "demand.revisited"),
            ("b", one.event_id, "demand.revisited"),
        ]
    )
