"""Secrets the directory must read back are sealed at rest, under keys outside the database."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest
from cryptography.fernet import Fernet
from sqlalchemy import select

from services.directory import sealing, totp
from services.directory.models import persons, signing_secrets
from services.directory.passwords import Hasher
from services.directory.people import create_person
from services.directory.signin import Credentials, public_keys, sign_in
from shared.config import load_settings


def test_a_sealed_secret_opens_with_its_key_and_an_old_one_during_a_rotation():
    old, new = Fernet.generate_key().decode(), Fernet.generate_key().decode()
    sealed = sealing.Sealer([old]).seal("JBSWY3DPEHPK3PXP")
    assert sealed.startswith(sealing.PREFIX) and "JBSWY3DPEHPK3PXP" not in sealed
    assert sealing.Sealer([new, old]).open(sealed) == "JBSWY3DPEHPK3PXP"  # new first, old kept
    with pytest.raises(ValueError):
        sealing.Sealer([new]).open(sealed)
    assert sealing.Sealer([new]).open("PLAIN-FROM-BEFORE") == "PLAIN-FROM-BEFORE"


def test_the_key_comes_from_the_settings_or_is_made_once_in_the_data_directory(tmp_path):
    key = Fernet.generate_key().decode()
    given = load_settings({"ONESTOP_DATA_DIR": str(tmp_path), "ONESTOP_SECRET_KEYS": key})
    sealed = sealing.configure(given).seal("x")
    assert sealing.Sealer([key]).open(sealed) == "x"
    made = load_settings({"ONESTOP_DATA_DIR": str(tmp_path / "d")})
    first = sealing.configure(made).seal("y")
    assert (tmp_path / "d" / sealing.KEY_FILE).stat().st_mode & 0o777 == 0o600
    assert sealing.configure(made).open(first) == "y"  # the same key again


def test_no_totp_seed_or_private_signing_key_is_stored_in_the_clear(uow):
    made = create_person(
        uow,
        None,
        {
            "person_id": "an.quan",
            "name": "安全管理员",
            "unit": "630000",
            "roles": ["secadmin"],
            "password": "Qinghai-Security-2026",
        },
        hasher=Hasher.cheap(),
    )

    now = datetime.now(UTC)
    code = totp.code_at(made["second_factor_secret"], now)
    sign_in(
        uow, Credentials("an.quan", "Qinghai-Security-2026", code), hasher=Hasher.cheap(), now=now
    )
    with uow.read() as s:
        stored = s.execute(select(persons.c.totp_secret)).scalar_one()
        private = s.execute(select(signing_secrets.c.private_jwk)).scalar_one()
    assert made["second_factor_secret"] not in stored and stored.startswith(sealing.PREFIX)
    assert private.startswith(sealing.PREFIX)
    assert "d" in json.loads(sealing.current().open(private))  # the private parameter, sealed
    assert "d" not in public_keys(uow)["keys"][0]
