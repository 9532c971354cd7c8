"""The password rule (等保 2.0 level 3, 8.1.4.1 a) rule by rule, and argon2id hashing:
a wrong password, a stored value that is no hash, a rehash when the parameters change."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from argon2 import Parameters, PasswordHasher, Type, profiles
from hypothesis import given, settings
from hypothesis import strategies as st

from services.directory.passwords import (
    COMMON_PASSWORDS,
    DEFAULT_POLICY,
    Hasher,
    PasswordPolicy,
    Verdict,
    change_due,
    classes_of,
    problems,
)

GOOD = "Tsinghai-Lake7"


def test_a_password_meeting_every_rule_has_no_problem():
    assert problems(GOOD, "zhangsan") == []
    assert problems("青海湖Salt2026", "zhangsan") == []  # CJK counts as "other"


def test_the_defaults_are_the_documented_ones():
    p = DEFAULT_POLICY
    assert (p.min_length, p.max_length, p.min_classes, p.max_age_days) == (10, 128, 3, 90)


@pytest.mark.parametrize(
    ("password", "broken"),
    [
        ("Ab1!Ab1!A", "must be at least 10 characters long"),  # 9 characters
        ("Ab1!" * 32 + "x", "must be at most 128 characters long"),  # 129 characters
    ],
)
def test_length_is_bounded_both_ways(password, broken):
    assert problems(password, "zhangsan") == [broken]


def test_exactly_the_bounds_are_accepted():
    assert problems("Ab1!Ab1!Ab", "zhangsan") == []  # 10
    assert problems("Ab1!" * 32, "zhangsan") == []  # 128


@pytest.mark.parametrize(
    ("password", "missing"),
    [
        ("abcdefghij12", "upper case letters, other characters"),
        ("ABCDEFGHIJ!!", "lower case letters, digits"),
        ("quiet-meadow-path", "upper case letters, digits"),
        ("0123456789-=", "upper case letters, lower case letters"),
    ],
)
def test_two_classes_are_not_enough_and_the_missing_ones_are_named(password, missing):
    (only,) = problems(password, "zhangsan")
    assert only.startswith("must mix at least 3 of")
    assert only.endswith(f"(missing: {missing})")


@pytest.mark.parametrize(
    ("password", "classes"),
    [
        ("aB3!", (True, True, True, True)),
        ("aaaa", (False, True, False, False)),
        ("ÄÖ", (True, False, False, False)),  # non-ASCII letters have a case too
        ("青海 ", (False, False, False, True)),  # CJK and space: other
        ("", (False, False, False, False)),
    ],
)
def test_classes(password, classes):
    assert classes_of(password) == classes


def test_three_classes_are_enough_whichever_three():
    for password in ("Abcdefghij1", "abcdefghij1!", "ABCDEFGHIJ1!", "Abcdefghij!!"):
        assert problems(password, "zhangsan") == [], password


@pytest.mark.parametrize(
    ("password", "broken"),
    [
        ("Xx-ZhangSan-2026", "must not contain the user name"),
        ("ZHANGSAN#2026abc", "must not contain the user name"),
        ("2026!nasgnahZ-x", "must not contain the user name reversed"),
    ],
)
def test_the_user_name_is_looked_for_in_any_case_and_reversed(password, broken):
    assert problems(password, "zhangsan") == [broken]


def test_a_very_short_user_name_is_not_looked_for():
    assert problems("Lake-Qinghai7", "la") == []
    assert problems("Lake-Qinghai7", "lak") == ["must not contain the user name"]
    assert problems("Lake-Qinghai7", "  ") == []


@pytest.mark.parametrize(
    "password", ["Woaini1314!", "WOAINI1314!", "P@ssw0rd123", "Admin@1234", "Zhang123456"]
)
def test_common_passwords_are_refused_even_when_complex_enough(password):
    assert problems(password, "someone") == ["is too common"]


@pytest.mark.parametrize("password", ["woaini1314", "qwer1234", "Aa123456!"])
def test_the_named_common_passwords_are_in_the_list(password):
    assert password.casefold() in COMMON_PASSWORDS
    loose = PasswordPolicy(min_length=8, min_classes=1)
    assert problems(password, "someone", loose) == ["is too common"]


def test_every_rule_broken_is_named_at_once():
    out = problems("woaini1314", "woaini")
    assert out == [
        "must mix at least 3 of upper case letters, lower case letters, digits and other "
        "characters (missing: upper case letters, other characters)",
        "must not contain the user name",
        "is too common",
    ]


def test_a_stricter_policy_applies():
    strict = PasswordPolicy(min_length=14, min_classes=4)
    assert problems(GOOD, "zhangsan", strict) == []  # 14 characters, 4 classes
    assert problems("Tsinghai-Lake", "zhangsan", strict) == [
        "must be at least 14 characters long",
        "must mix at least 4 of upper case letters, lower case letters, digits and other "
        "characters (missing: digits)",
    ]


@pytest.mark.parametrize(
    "kwargs",
    [
        {"min_length": 0},
        {"min_length": 20, "max_length": 19},
        {"min_classes": 5},
        {"min_classes": 0},
        {"max_age_days": -1},
        {"username_min_match": 0},
    ],
)
def test_an_inconsistent_policy_is_refused(kwargs):
    with pytest.raises(ValueError):
        PasswordPolicy(**kwargs)


def test_a_password_is_due_for_change_after_90_days():
    set_at = datetime(2026, 3, 1, 9, 0, tzinfo=UTC)
    assert not change_due(set_at, set_at + timedelta(days=90, seconds=-1))
    assert change_due(set_at, set_at + timedelta(days=90))
    assert not change_due(set_at, set_at + timedelta(days=900), PasswordPolicy(max_age_days=0))


@settings(max_examples=300)
@given(st.text(max_size=140), st.text(max_size=12))
def test_problems_never_raise_and_an_empty_answer_means_every_rule_holds(password, username):
    out = problems(password, username)
    if not out:
        assert 10 <= len(password) <= 128
        assert sum(classes_of(password)) >= 3
        name = username.strip().casefold()
        assert len(name) < 3 or name not in password.casefold()


# --- hashing ----------------------------------------------------------------------------


@pytest.fixture(scope="module")
def hasher():
    return Hasher.cheap()


def test_a_hash_is_argon2id_salted_and_verifies(hasher):
    stored = hasher.hash(GOOD)
    assert stored.startswith("$argon2id$v=19$")
    assert GOOD not in stored
    assert hasher.hash(GOOD) != stored  # a fresh salt each time
    assert hasher.verify(stored, GOOD) == Verdict(ok=True, rehash=False)


def test_the_default_is_rfc_9106_low_memory():
    assert Hasher().parameters == profiles.RFC_9106_LOW_MEMORY


def test_a_wrong_password_is_not_ok_and_does_not_raise(hasher):
    stored = hasher.hash(GOOD)
    assert hasher.verify(stored, GOOD + "x") == Verdict(ok=False)
    assert hasher.verify(stored, "") == Verdict(ok=False)
    assert hasher.verify(stored, GOOD.lower()) == Verdict(ok=False)


@pytest.mark.parametrize(
    "stored",
    [
        "",
        "not a hash",
        "$argon2id$",
        "$argon2id$v=19$m=8,t=1,p=1$AAAA$BBBB",  # hash too short
        "$argon2id$v=19$m=99999999999,t=1,p=1$c2FsdHNhbHQ$aGFzaGhhc2hoYXNo",
        "$2b$12$R9h/cIPz0gi.URNNX3kh2OPST9/PgBkqquzi.Ss7KIUgO2t0jWMUW",  # bcrypt
        "5f4dcc3b5aa765d61d8327deb882cf99",  # md5 of "password"
        "\x00\xff",
    ],
)
def test_a_malformed_stored_hash_is_not_ok_and_does_not_raise(hasher, stored):
    assert hasher.verify(stored, "password") == Verdict(ok=False)


@settings(max_examples=200)
@given(st.text(max_size=80), st.text(max_size=20))
def test_verify_never_raises(stored, password):
    assert Hasher.cheap().verify(stored, password) == Verdict(ok=False)


def test_a_hash_made_with_other_parameters_verifies_and_asks_for_a_rehash():
    old = Hasher(
        Parameters(
            Type.ID, 19, salt_len=16, hash_len=16, time_cost=1, memory_cost=16, parallelism=1
        )
    )
    new = Hasher(
        Parameters(
            Type.ID, 19, salt_len=16, hash_len=16, time_cost=2, memory_cost=16, parallelism=1
        )
    )
    stored = old.hash(GOOD)
    assert new.verify(stored, GOOD) == Verdict(ok=True, rehash=True)
    assert new.verify(stored, "wrong") == Verdict(ok=False, rehash=False)
    fresh = new.hash(GOOD)
    assert new.verify(fresh, GOOD) == Verdict(ok=True, rehash=False)
    assert old.verify(fresh, GOOD) == Verdict(ok=True, rehash=True)  # and back again


def test_an_argon2i_hash_still_verifies_and_is_replaced():
    argon2i = Parameters(
        Type.I, 19, salt_len=16, hash_len=16, time_cost=1, memory_cost=16, parallelism=1
    )
    stored = PasswordHasher.from_parameters(argon2i).hash(GOOD)
    assert Hasher.cheap().verify(stored, GOOD) == Verdict(ok=True, rehash=True)


def test_only_argon2id_hashes_new_passwords():
    with pytest.raises(ValueError, match="argon2id"):
        Hasher(Parameters(Type.I, 19, 16, 16, 1, 16, 1))


def test_the_decoy_spends_a_verification_and_is_never_ok(hasher):
    assert hasher.verify_decoy(GOOD) == Verdict(ok=False)
    assert hasher.verify_decoy("decoy password, never anyone's") == Verdict(ok=False)
