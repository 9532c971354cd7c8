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
def uow(postgres, tmp_path):
    env = {
        "ONESTOP_DATA_DIR": str(tmp_path),
        "ONESTOP_ARCHIVE_DATABASE_URL": postgres.create_database("verify_archive"),
    }
    settings = load_settings(env)
    migrate.upgrade(settings, ("archive",))
    svc = archive.build(settings)
    yield svc.uow()
    svc.db.dispose()


def append(uow, n, start=1):
    inbox = Inbox(archive.models.metadata.tables["processed_events"])
    t0 = datetime(2026, 11, 2, 2, 0, tzinfo=UTC)
    for i in range(start, start + n):
        payload = accepted_payload(
            demand_code=f"630102-2026-{i:06d}",
            title='正极材料烧结工艺改进 \\ "引号"',
            accepted_at=(t0 + timedelta(hours=i)).isoformat(),
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
            occurred_at=t0 + timedelta(hours=i),
        )
        assert inbox.apply(lambda: uow, "archive.all_events", event, on_any_event)


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
