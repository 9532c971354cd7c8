"""Signing in: passwords, lock-out with back-off, the second factor, sessions that end,
access tokens every service verifies, signing keys that rotate."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest

from services.directory import totp
from services.directory.passwords import Hasher
from services.directory.people import create_person, list_people, set_disabled
from services.directory.signin import (
    Credentials,
    public_keys,
    refresh,
    retire_old_keys,
    rotate_key,
    sign_in,
    sign_out,
)
from shared.tokens import InvalidToken
from shared.usecases import Conflict, Forbidden, Invalid, Unauthenticated
from tests.fakes import actor

HASHER = Hasher.cheap()
PASSWORD = "Qinghai-2026!x"
T0 = datetime(2025, 12, 1, 9, 0, tzinfo=UTC)  # long past: its tokens have expired


def person(uow, person_id="zhang.san", roles=("office_staff",), unit="630102", **more):
    return create_person(
        uow,
        None,
        {
            "person_id": person_id,
            "name": "张三",
            "unit": unit,
            "roles": list(roles),
            "password": PASSWORD,
            **more,
        },
        hasher=HASHER,
    )


def login(uow, username="zhang.san", password=PASSWORD, code=None, at=T0):
    return sign_in(uow, Credentials(username, password, code), hasher=HASHER, now=at)


def test_a_person_signs_in_and_every_service_can_verify_the_token(uow):
    person(uow)
    s = login(uow)
    assert s["person"]["api_role"] == "staff" and s["token_type"] == "Bearer"
    assert s["expires_at"] == T0 + timedelta(minutes=10)
    assert uow.types() == ["person.created", "person.signed_in", "signing_key.published"]
    assert uow.committed[1].payload["session_id"] == s["session_id"]
    # verified as any service does, from the published key (its own copy)
    with pytest.raises(InvalidToken):  # issued a year ago: expired
        uow.directory.verify_token(s["access_token"])
    fresh = login(uow, at=datetime.now(UTC))
    principal = uow.directory.verify_token(fresh["access_token"])
    assert (principal.key_id, principal.role, principal.jurisdiction) == (
        "person:zhang.san",
        "staff",
        "630102",
    )
    assert principal.roles == ("office_staff",)
    assert PASSWORD not in json.dumps([e.payload for e in uow.committed])


def test_every_failure_is_the_same_401_counted_and_the_fifth_locks(uow):
    person(uow)
    for n in range(1, 6):
        with pytest.raises(Unauthenticated) as err:
            login(uow, password="wrong", at=T0 + timedelta(seconds=n))
        assert err.value.message == "Wrong log-in name or password."
    assert [e.payload["outcome"] for e in uow.committed[1:]] == ["refused"] * 4 + ["locked"]
    with pytest.raises(Unauthenticated, match="locked until"):  # even the right password
        login(uow, at=T0 + timedelta(seconds=30))
    s = login(uow, at=T0 + timedelta(minutes=2))  # the minute is over
    assert s["person"]["person_id"] == "zhang.san"
    with pytest.raises(Unauthenticated) as err:
        login(uow, username="nobody")
    assert err.value.message == "Wrong log-in name or password."


def test_administrators_need_their_second_factor_and_a_code_works_once(uow):
    made = person(uow, "an.quan", roles=("secadmin",), unit="630000")
    secret = made["second_factor_secret"]
    assert made["second_factor_uri"].startswith("otpauth://totp/")
    with pytest.raises(Unauthenticated):
        login(uow, "an.quan")
    code = totp.code_at(secret, T0)
    assert login(uow, "an.quan", code=code)["person"]["api_role"] == "admin"
    with pytest.raises(Unauthenticated):  # the same code again: refused
        login(uow, "an.quan", code=code, at=T0 + timedelta(seconds=5))


def test_refresh_rotates_and_the_session_ends_when_idle_or_at_its_absolute_end(uow):
    person(uow)
    s = login(uow)
    r = refresh(uow, s["refresh_token"], now=T0 + timedelta(minutes=20))
    assert r["session_id"] == s["session_id"] and r["refresh_token"] != s["refresh_token"]
    with pytest.raises(Unauthenticated):  # the old refresh token is spent
        refresh(uow, s["refresh_token"], now=T0 + timedelta(minutes=21))
    with pytest.raises(Unauthenticated, match="idle"):
        refresh(uow, r["refresh_token"], now=T0 + timedelta(minutes=51))
    s2 = login(uow)
    token = s2["refresh_token"]
    for minute in range(25, 8 * 60, 25):
        token = refresh(uow, token, now=T0 + timedelta(minutes=minute))["refresh_token"]
    with pytest.raises(Unauthenticated, match="expired"):
        refresh(uow, token, now=T0 + timedelta(hours=8))


def test_signing_out_ends_the_session_and_is_kept(uow):
    person(uow)
    s = login(uow)
    sign_out(uow, actor("staff", "630102", key_id="person:zhang.san"), s["session_id"], now=T0)
    with pytest.raises(Unauthenticated):
        refresh(uow, s["refresh_token"], now=T0 + timedelta(minutes=1))
    assert uow.types()[-1] == "person.signed_out"


def test_keys_rotate_and_old_tokens_verify_until_the_old_key_retires(uow):
    person(uow)
    now = datetime.now(UTC)
    old = login(uow, at=now)["access_token"]
    with uow:
        rotate_key(uow, now + timedelta(seconds=1))
        uow.commit()
    new = login(uow, at=now)["access_token"]
    assert uow.directory.verify_token(old).key_id == uow.directory.verify_token(new).key_id
    assert len(public_keys(uow)["keys"]) == 2
    assert retire_old_keys(uow, now) == []  # the newest has not signed for 10 minutes yet
    retired = retire_old_keys(uow, now + timedelta(minutes=12))
    assert len(retired) == 1 and len(public_keys(uow)["keys"]) == 1
    uow.directory.forget()
    with pytest.raises(InvalidToken, match="unknown key"):
        uow.directory.verify_token(old)
    assert "signing_key.retired" in uow.types()


def test_accounts_follow_the_rules(uow):
    weak = {
        "person_id": "li.si",
        "name": "李四",
        "unit": "630102",
        "roles": ["office_staff"],
        "password": "password",
    }
    with pytest.raises(Invalid) as err:
        create_person(uow, None, weak, hasher=HASHER)
    assert len(err.value.fields["json"]["password"]) >= 2
    with pytest.raises(Invalid):  # system, security, audit: three people
        person(uow, "two.hats", roles=("sysadmin", "auditor"), unit="630000")
    with pytest.raises(Invalid):
        person(uow, "clerk", roles=("agency_clerk",))  # names no agency
    with pytest.raises(Invalid):
        person(uow, "nowhere", unit="630199")
    person(uow)
    with pytest.raises(Conflict):
        person(uow)


def test_who_manages_accounts(uow):
    person(uow)
    security = actor("admin", "630000", roles=("secadmin",))
    assert [p["person_id"] for p in list_people(uow, security, {})["items"]] == ["zhang.san"]
    for who in (actor("admin", "630000", roles=("sysadmin",)), actor("staff", "630102")):
        with pytest.raises(Forbidden):
            list_people(uow, who, {})
    set_disabled(uow, security, "zhang.san", True)
    with pytest.raises(Unauthenticated):
        login(uow)
    set_disabled(uow, security, "zhang.san", False)
    assert login(uow)["person"]["disabled"] is False


def test_a_person_changes_their_own_password_under_the_rule(uow):
    from services.directory.people import change_password

    person(uow)
    me = actor("staff", "630102", key_id="person:zhang.san")
    for current, new, field in (
        ("wrong", "Another-Password-9", "current_password"),
        (PASSWORD, "short", "new_password"),
        (PASSWORD, PASSWORD, "new_password"),  # the same as now
    ):
        with pytest.raises(Invalid) as err:
            change_password(
                uow, me, {"current_password": current, "new_password": new}, hasher=HASHER
            )
        assert field in err.value.fields["json"]
    change_password(
        uow, me, {"current_password": PASSWORD, "new_password": "Another-Password-9"}, hasher=HASHER
    )
    with pytest.raises(Unauthenticated):
        login(uow)
    assert login(uow, password="Another-Password-9")["password_change_due"] is False
    with pytest.raises(Forbidden):  # a system key has no password
        change_password(
            uow,
            actor("admin", "630000"),
            {"current_password": "x", "new_password": "y"},
            hasher=HASHER,
        )


def test_roles_change_by_a_security_administrator_and_stay_apart(uow):
    from services.directory.people import change_roles

    person(uow)
    security = actor("admin", "630000", key_id="person:an.quan", roles=("secadmin",))
    made = change_roles(uow, security, "zhang.san", {"roles": ["leader"]})
    assert made["roles"] == ["leader"] and made["api_role"] == "district"
    assert "person.updated" in uow.types()
    with pytest.raises(Invalid):
        change_roles(uow, security, "zhang.san", {"roles": ["sysadmin", "secadmin"]})
    promoted = change_roles(uow, security, "zhang.san", {"roles": ["auditor"]})
    assert promoted["second_factor_secret"]  # a new administrator gets a second factor
    with pytest.raises(Forbidden):
        change_roles(
            uow, actor("admin", "630000", roles=("sysadmin",)), "zhang.san", {"roles": ["leader"]}
        )
    with pytest.raises(Forbidden):  # not one's own
        change_roles(
            uow,
            actor("admin", "630102", key_id="person:zhang.san", roles=("secadmin",)),
            "zhang.san",
            {"roles": ["leader"]},
        )
