"""Verify on PostgreSQL: the full walk re-checks records from the bytes and column lines
PostgreSQL hands over (``convert_to``, ``json_build_array``), which must agree with what
the first verify checked from the bodies — Chinese text, NULL columns and all."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select, update

from onestop import migrate
from services import archive
from services.archive.handlers import on_any_event
from services.archive.models import archived_events as t
from services.archive.verification import verify
from shared.config import load_settings
from shared.events import Event
from shared.outbox import Inbox
from tests.factories import accepted_payload

pytestmark = pytest.mark.integration


@pytest.fixture
def uow(postgres, tmp_path, request):
    name = "verify_archive_" + request.node.name.split("_")[1]  # a database per test
    env = {
        "ONESTOP_DATA_DIR": str(tmp_path),
        "ONESTOP_ARCHIVE_DATABASE_URL": postgres.create_database(name),
    }
    settings = load_settings(env)
    migrate.upgrade(settings, ("archive",))
    svc = archive.build(settings)
    yield svc.uow()
    svc.db.dispose()


T0 = datetime(2026, 11, 2, 2, 0, tzinfo=UTC)


def events(n, start=1):

    for i in range(start, start + n):
        payload = accepted_payload(
            demand_code=f"630102-2026-{i:06d}",
            title='正极材料烧结工艺改进 \\ "引号"',
            accepted_at=(T0 + timedelta(hours=i)).isoformat(),
        )
        if i % 2:  # some records with no enterprise: NULL columns
            payload.pop("enterprise")
        event = Event(  # taken as given (no schema check), as the archive receives it
            event_type="demand.accepted",
            event_version=1,
            producer="intake",
            jurisdiction="630102",
            payload=payload,
            correlation_id="c-archive",
            occurred_at=T0 + timedelta(hours=i),
        )
        yield event


def append(uow, n, start=1):
    inbox = Inbox(archive.models.metadata.tables["processed_events"])
    for event in events(n, start):
        assert inbox.apply(lambda: uow, "archive.all_events", event, on_any_event)


def test_batches_append_in_order_on_postgres_and_the_chain_verifies(uow):
    """A batch's records are written together before its commit (one insert), in the
    order of the batch: their sequence numbers follow it and the chain verifies; a
    redelivered copy in a later batch appends nothing."""
    inbox = Inbox(archive.models.metadata.tables["processed_events"])
    sent = list(events(9))
    for batch in (sent[:4], sent[4:5], [sent[3], *sent[5:]]):  # sent[3] again: a duplicate
        inbox.apply_batch(lambda: uow, "archive.all_events", batch, on_any_event)
    with uow.read() as s:
        stored = list(s.execute(select(t.c.event_id).order_by(t.c.seq)).scalars())
    assert stored == [e.event_id for e in sent]
    result = verify(uow, None, full=True, batch=4)
    assert result["ok"] and result["checked"] == 9, result


def test_a_full_walk_on_postgres_re_checks_what_the_first_verify_checked(uow, monkeypatch):
    from services.archive import verification

    parsed, real = [], verification.walk

    def counting(links, *args):  # the records checked from their bodies
        links = list(links)
        parsed.extend(x.seq for x in links)
        return real(links, *args)

    monkeypatch.setattr(verification, "walk", counting)
    append(uow, 7)
    first = verify(uow, None, batch=3)
    assert first["ok"] and first["checked"] == 7 and first["checkpoint"]["length"] == 7
    append(uow, 5, start=8)
    assert verify(uow, None, batch=3)["walked"] == 5
    assert len(parsed) == 12
    full = verify(uow, None, full=True, batch=5)  # checkpoints at 7 and 12, mid-batch
    assert full["ok"], full["first_mismatch"]
    assert (full["checked"], full["walked"]) == (12, 12)
    assert len(parsed) == 12  # all re-checked from their stored bytes and column lines

    with uow.read() as s:
        seqs = list(s.execute(select(t.c.seq).order_by(t.c.seq)).scalars())
    with uow.db.write_session() as s:
        s.execute(update(t).where(t.c.seq == seqs[2]).values(credit_code="91630102MA7522T5X6"))
        s.commit()
    assert verify(uow, None)["ok"]  # behind the checkpoint: for the full walk
    bad = verify(uow, None, full=True, batch=5)["first_mismatch"]
    assert bad["seq"] == seqs[2] and "indexed credit_code" in bad["reason"]
