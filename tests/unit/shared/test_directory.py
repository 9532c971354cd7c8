"""Every service's copy of the directory (shared/directory.py): filled from the
directory's events, in any order, and read to authenticate and to look units up."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from services.intake.models import metadata
from shared import tokens
from shared.auth import new_key
from shared.directory import (
    ACCOUNT_CHANGED,
    ACCOUNT_DISABLED,
    TOKEN_AUDIENCE,
    TOKEN_ISSUER,
    LocalDirectory,
    apply,
)
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


# --- people's accounts: a token holds while its account does --------------------------


def person_event(kind, person_id, *, at, roles=("office_staff",), disabled=False, **more):
    payload = {
        "person_id": person_id,
        "name": "陈静",
        "unit": "630102",
        "roles": list(roles),
        "agency_id": None,
        "staff_id": "staff-005",
        "credit_codes": [],
        "disabled": disabled,
        "actor": "t",
        "at": at.isoformat(),
        **more,
    }
    return make_event(
        f"person.{kind}", 1, producer="directory", jurisdiction="630102", payload=payload
    )


def signed_in(copy, person_id="chen.jing", roles=("office_staff",)):
    """A signing key announced to ``copy`` and an access token for ``person_id``."""
    now = datetime.now(UTC)
    key = tokens.new_signing_key(now)
    payload = {"kid": key.kid, "public_jwk": key.public_jwk, "created_at": now.isoformat()}
    consume(
        copy,
        make_event(
            "signing_key.published", 1, producer="directory", jurisdiction="100000", payload=payload
        ),
    )
    claims = {
        "sub": person_id,
        "name": "陈静",
        "unit": "630102",
        "roles": list(roles),
        "agency_id": None,
        "staff_id": "staff-005",
        "credit_codes": [],
    }
    return tokens.issue(key, claims, now, 300, TOKEN_ISSUER, TOKEN_AUDIENCE)


def test_a_token_of_an_account_not_yet_announced_is_taken_at_its_word(copy):
    d = LocalDirectory(copy.db, cache_seconds=0)
    principal = d.verify_token(signed_in(copy))
    assert principal.staff_id == "staff-005" and principal.roles == ("office_staff",)


def test_a_disabled_account_s_token_is_refused_at_once_and_works_again_when_enabled(copy):
    d = LocalDirectory(copy.db, cache_seconds=0)
    token = signed_in(copy)
    consume(copy, person_event("created", "chen.jing", at=T0))
    assert d.verify_token(token).name == "陈静"
    consume(copy, person_event("updated", "chen.jing", at=T0 + timedelta(hours=1), disabled=True))
    with pytest.raises(tokens.InvalidToken) as refused:
        d.verify_token(token)
    assert refused.value.reason == ACCOUNT_DISABLED
    consume(copy, person_event("updated", "chen.jing", at=T0 + timedelta(hours=2)))
    assert d.verify_token(token).name == "陈静"


def test_a_token_claiming_roles_the_account_no_longer_holds_is_refused(copy):
    d = LocalDirectory(copy.db, cache_seconds=0)
    token = signed_in(copy, roles=("office_staff", "station_staff"))
    consume(
        copy, person_event("created", "chen.jing", at=T0, roles=("station_staff", "office_staff"))
    )
    assert d.verify_token(token).roles == ("office_staff", "station_staff")  # order is no change
    consume(copy, person_event("updated", "chen.jing", at=T0 + timedelta(hours=1)))
    with pytest.raises(tokens.InvalidToken) as refused:
        d.verify_token(token)
    assert refused.value.reason == ACCOUNT_CHANGED


def test_an_older_account_change_never_wins(copy):
    d = LocalDirectory(copy.db, cache_seconds=0)
    token = signed_in(copy)
    consume(
        copy,
        person_event("updated", "chen.jing", at=T0 + timedelta(hours=1), disabled=True),
        person_event("created", "chen.jing", at=T0),  # a retried delivery, late
    )
    with pytest.raises(tokens.InvalidToken, match="disabled"):
        d.verify_token(token)


def test_the_account_is_cached_like_the_units(copy):
    d = LocalDirectory(copy.db, cache_seconds=60)
    token = signed_in(copy)
    consume(copy, person_event("created", "chen.jing", at=T0))
    d.verify_token(token)
    consume(copy, person_event("updated", "chen.jing", at=T0 + timedelta(hours=1), disabled=True))
    d.verify_token(token)  # the cached account, for up to cache_seconds
    d.forget()
    with pytest.raises(tokens.InvalidToken, match="disabled"):
        d.verify_token(token)
