"""API keys: issued hashed by an administrator for its subtree, announced, revoked."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from services.directory.keys import issue_key, list_keys, on_agency_key_issued, revoke_key
from services.directory.models import api_keys
from shared.events import make_event
from shared.usecases import Conflict, Forbidden, Invalid, NotFound
from tests.fakes import actor


def test_keys_are_stored_hashed_and_authenticate(uow, city_admin):
    key = issue_key(uow, city_admin, {"name": "sys", "role": "district", "jurisdiction": "630102"})[
        "key"
    ]
    _, key_id, secret = key.split("_")
    with uow.read() as s:
        row = s.execute(select(api_keys).where(api_keys.c.key_id == key_id)).mappings().one()
    assert secret not in str(dict(row))
    p = uow.directory.authenticate(key)
    assert (p.role, p.jurisdiction) == ("district", "630102")
    assert uow.directory.authenticate(key[:-1] + ("A" if key[-1] != "A" else "B")) is None
    assert uow.directory.authenticate("garbage") is None
    assert uow.types() == ["apikey.issued"]
    announced = uow.committed[0].payload
    assert announced["secret_sha256"] == row["secret_sha256"] and secret not in str(announced)
    revoke_key(uow, city_admin, key_id)
    assert uow.directory.authenticate(key) is None
    assert uow.types() == ["apikey.issued", "apikey.revoked"]
    with pytest.raises(Conflict):
        revoke_key(uow, city_admin, key_id)


@pytest.mark.parametrize(
    ("command", "error", "field"),
    [
        ({"role": "root", "jurisdiction": "630102"}, Invalid, "role"),
        ({"role": "agency", "jurisdiction": "630100"}, Invalid, "agency_id"),
        ({"role": "staff", "jurisdiction": "630100", "agency_id": "a"}, Invalid, "agency_id"),
        ({"role": "staff", "jurisdiction": "630104"}, Invalid, "jurisdiction"),  # unknown
    ],
)
def test_key_rules(uow, city_admin, command, error, field):
    with pytest.raises(error) as err:
        issue_key(uow, city_admin, {"name": "x", **command})
    assert field in err.value.fields["json"]
    assert uow.committed == []


def test_an_administrator_issues_keys_in_its_subtree_only_and_admins_below_itself(uow, city_admin):
    with pytest.raises(Forbidden):
        issue_key(uow, city_admin, {"name": "x", "role": "staff", "jurisdiction": "630000"})
    with pytest.raises(Forbidden):  # an administrator's key comes from above
        issue_key(uow, city_admin, {"name": "x", "role": "admin", "jurisdiction": "630100"})
    with pytest.raises(Forbidden):
        issue_key(
            uow, actor("staff", "630100"), {"name": "x", "role": "staff", "jurisdiction": "630100"}
        )
    made = issue_key(
        uow, city_admin, {"name": "区管理员", "role": "admin", "jurisdiction": "630102"}
    )
    assert made["role"] == "admin" and uow.directory.authenticate(made["key"]).role == "admin"
    # the operator (CLI) is bound to no unit
    issue_key(uow, None, {"name": "省管理员", "role": "admin", "jurisdiction": "630000"})


def test_keys_are_listed_by_subtree_without_secrets(uow, province_admin, city_admin):
    issue_key(uow, province_admin, {"name": "p", "role": "staff", "jurisdiction": "630000"})
    made = issue_key(uow, city_admin, {"name": "d", "role": "district", "jurisdiction": "630102"})
    listed = list_keys(uow, city_admin, {})["items"]
    assert [k["key_id"] for k in listed] == [made["key_id"]]
    assert "key" not in listed[0] and "secret_sha256" not in listed[0]
    assert len(list_keys(uow, province_admin, {})["items"]) == 2
    with pytest.raises(NotFound):
        revoke_key(uow, actor("admin", "630103"), made["key_id"])


def test_unknown_keys_are_not_cached(uow):
    for i in range(50):
        assert uow.directory.authenticate(f"osk_{i:012x}_secret") is None
    assert uow.directory._keys == {}


def test_an_agency_key_made_by_dispatch_is_kept_and_announced_once(uow):
    payload = {
        "key_id": "ab12cd34ef56",
        "secret_sha256": "0" * 64,
        "name": "agency ag-1",
        "jurisdiction": "630100",
        "agency_id": "ag-1",
        "created_at": "2026-12-01T00:00:00+00:00",
        "actor": "k-admin",
    }
    event = make_event(
        "agency.key_issued", 1, producer="dispatch", jurisdiction="630100", payload=payload
    )
    for _ in range(2):
        with uow:
            on_agency_key_issued(event, uow)
            uow.commit()
    assert uow.types() == ["apikey.issued"]
    assert uow.committed[0].payload["role"] == "agency"


def test_a_rotated_key_works_beside_its_successor_until_the_overlap_ends(uow, city_admin):
    from datetime import UTC, datetime, timedelta

    from services.directory.keys import rotate_key

    old = issue_key(
        uow,
        city_admin,
        {"name": "sys", "role": "district", "jurisdiction": "630102", "scopes": ["intake.*"]},
    )
    new = rotate_key(uow, city_admin, old["key_id"], overlap_days=7)
    assert new["replaces"] == old["key_id"] and new["scopes"] == ["intake.*"]
    assert uow.types()[-2:] == ["apikey.issued", "apikey.rotated"]
    assert uow.directory.authenticate(old["key"]) is not None  # the overlap
    assert uow.directory.authenticate(new["key"]).scopes == ("intake.*",)
    ends = new["old_key_ends"]
    assert timedelta(days=6, hours=23) < ends - datetime.now(UTC) <= timedelta(days=7)
    now_over = rotate_key(uow, city_admin, new["key_id"], overlap_days=0)
    uow.directory.forget()
    assert uow.directory.authenticate(new["key"]) is None  # no overlap asked: over at once
    assert uow.directory.authenticate(now_over["key"]) is not None
    with pytest.raises(Conflict):
        rotate_key(uow, city_admin, new["key_id"])
