"""Every service's copy of the directory (shared/directory.py): filled from the
directory's events, in any order, and read to authenticate and to look units up."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from services.intake.models import metadata
from shared.auth import new_key
from shared.directory import LocalDirectory, apply
from shared.events import make_event
from tests.fakes import FakeUnitOfWork

T0 = datetime(2026, 12, 1, tzinfo=UTC)


@pytest.fixture
def copy(tmp_path):
    return FakeUnitOfWork(metadata, tmp_path / "intake.db")


def unit_event(kind, code, name, *, at, parent=None, level="county", **more):
    payload = {
        "code": code,
        "name": name,
        "parent": parent,
        "level": level,
        "source": "gb2260",
        "actor": "t",
        "at": at.isoformat(),
        **more,
    }
    ev = make_event(
        f"jurisdiction.{kind}", 1, producer="directory", jurisdiction=code, payload=payload
    )
    return ev.__class__(**{**ev.__dict__, "occurred_at": at})


def key_event(kind, key_id, digest, *, revoked_at=None, expires_at=None):
    payload = {
        "key_id": key_id,
        "secret_sha256": digest,
        "name": "sys",
        "role": "district",
        "jurisdiction": "630102",
        "agency_id": None,
        "created_at": T0.isoformat(),
        "revoked_at": revoked_at.isoformat() if revoked_at else None,
        "expires_at": expires_at.isoformat() if expires_at else None,
        "actor": "t",
    }
    return make_event(
        f"apikey.{kind}", 1, producer="directory", jurisdiction="630102", payload=payload
    )


def consume(uow, *events):
    for ev in events:
        with uow:
            apply(ev, uow)
            uow.commit()


def test_a_key_works_once_announced_and_stops_once_revoked(copy):
    d = LocalDirectory(copy.db, cache_seconds=0)
    key_id, digest, key = new_key()
    assert d.authenticate(key) is None
    consume(copy, key_event("issued", key_id, digest))
    assert d.authenticate(key).jurisdiction == "630102"
    consume(copy, key_event("revoked", key_id, digest, revoked_at=T0))
    assert d.authenticate(key) is None


def test_a_revocation_met_before_the_issue_is_never_undone(copy):
    d = LocalDirectory(copy.db, cache_seconds=0)
    key_id, digest, key = new_key()
    consume(
        copy,
        key_event("revoked", key_id, digest, revoked_at=T0),
        key_event("issued", key_id, digest),
    )
    assert d.authenticate(key) is None


def test_units_follow_their_changes_and_an_older_change_never_wins(copy):
    d = LocalDirectory(copy.db, cache_seconds=0)
    later = T0 + timedelta(minutes=1)
    consume(
        copy,
        unit_event("opened", "630000", "青海省", at=T0, level="province"),
        unit_event("opened", "630122", "湟中县", at=T0, parent="630000"),
        unit_event(
            "retired",
            "630122",
            "湟中县",
            at=later,
            parent="630000",
            retired_at=later.isoformat(),
            successor="630106",
        ),
        unit_event("renamed", "630122", "旧名", at=T0, parent="630000"),  # a late retry
    )
    unit = d.jurisdiction("630122")
    assert unit["retired"] and unit["successor"] == "630106" and unit["name"] == "湟中县"
    assert [u["code"] for u in d.subtree("630000")] == ["630000", "630122"]
    assert d.jurisdiction("630199") is None


def test_a_deeper_unit_is_in_its_ancestors_subtrees(copy):
    d = LocalDirectory(copy.db, cache_seconds=0)
    consume(
        copy,
        unit_event("opened", "630102", "城东区", at=T0, parent="630100"),
        unit_event("opened", "630102-P0001", "东川工业园区", at=T0, parent="630102", level="park"),
        unit_event("opened", "630103", "城中区", at=T0, parent="630100"),
    )
    assert [u["code"] for u in d.subtree("630102")] == ["630102", "630102-P0001"]
    assert [u["code"] for u in d.subtree("630102-P0001")] == ["630102-P0001"]


def test_a_rotated_key_stops_at_the_end_of_its_overlap_in_every_copy(copy):
    d = LocalDirectory(copy.db, cache_seconds=0)
    key_id, digest, key = new_key()
    soon = datetime.now(UTC) + timedelta(days=7)
    consume(copy, key_event("issued", key_id, digest))
    consume(copy, key_event("rotated", key_id, digest, expires_at=soon))
    assert d.authenticate(key) is not None
    past = datetime.now(UTC) - timedelta(seconds=1)
    consume(copy, key_event("rotated", key_id, digest, expires_at=past))  # shortened: over
    assert d.authenticate(key) is None
    consume(copy, key_event("rotated", key_id, digest, expires_at=soon))  # never lengthened
    assert d.authenticate(key) is None
