"""Upgrading from the schema before the directory became a service: the units and the
API keys it held are announced, every service's copy fills from the announcements, and
an existing key keeps working — on SQLite and on PostgreSQL."""

from __future__ import annotations

import hashlib
import json
from datetime import UTC, datetime

import pytest
from alembic import command
from sqlalchemy import text

from onestop import migrate
from shared.config import SERVICES, load_settings
from shared.db import make_engine
from shared.directory import LocalDirectory, apply
from shared.events import parse_event

OLD_HEAD = "cf89e6d49042"  # the directory's schema until this change
SECRET = "old-secret-from-before-the-upgrade"
OLD_KEY = f"osk_0123456789ab_{SECRET}"


def settings_for(tmp_path, urls=None):
    env = {"ONESTOP_DATA_DIR": str(tmp_path)}
    for name, url in (urls or {}).items():
        env[f"ONESTOP_{name.upper()}_DATABASE_URL"] = url
    return load_settings(env)


def directory_as_it_was(settings):
    """The directory database at the old head, holding units and keys as it did."""
    url = settings.database_url("directory")
    make_engine(url).dispose()
    command.upgrade(migrate.alembic_config("directory", url), OLD_HEAD)
    engine = make_engine(url)
    with engine.begin() as conn:
        for code, name, parent, level in [
            ("630000", "青海省", None, "province"),
            ("630100", "西宁市", "630000", "city"),
            ("630102", "城东区", "630100", "county"),
        ]:
            conn.execute(
                text(
                    "INSERT INTO jurisdictions (code, name, parent, level) VALUES (:c, :n, :p, :l)"
                ),
                {"c": code, "n": name, "p": parent, "l": level},
            )
        for key_id, secret, revoked in [
            ("0123456789ab", SECRET, None),
            ("ffffffffffff", "x", datetime.now(UTC)),
        ]:
            conn.execute(
                text(
                    "INSERT INTO api_keys (key_id, secret_sha256, name, role, jurisdiction,"
                    " agency_id, created_at, revoked_at) VALUES (:k, :s, 'old system', 'district',"
                    " '630102', NULL, :at, :rev)"
                ),
                {
                    "k": key_id,
                    "s": hashlib.sha256(secret.encode()).hexdigest(),
                    "at": datetime(2026, 11, 1, tzinfo=UTC),
                    "rev": revoked,
                },
            )
    engine.dispose()


def announced(settings):
    engine = make_engine(settings.database_url("directory"))
    with engine.connect() as conn:
        rows = conn.execute(text("SELECT body FROM outbox ORDER BY seq")).scalars().all()
        levels = dict(conn.execute(text("SELECT code, level FROM jurisdictions")).all())
    engine.dispose()
    return [parse_event(json.loads(b)) for b in rows], levels


def upgrade_and_check(settings):
    directory_as_it_was(settings)
    migrate.upgrade(settings)
    events, levels = announced(settings)
    assert [e.event_type for e in events] == ["jurisdiction.opened"] * 3 + [
        "apikey.issued",
        "apikey.revoked",
    ]
    assert levels["630100"] == "prefecture"  # the old 'city' level, renamed
    from services import intake

    svc = intake.build(settings)
    directory = LocalDirectory(svc.db, cache_seconds=0)
    assert directory.authenticate(OLD_KEY) is None  # before the copy has the announcements
    for event in events:  # what intake's consumer does with each, through its inbox
        svc.inbox.apply(svc.uow, "intake.on_directory", event, apply)
    principal = directory.authenticate(OLD_KEY)
    assert (principal.role, principal.jurisdiction) == ("district", "630102")
    assert directory.authenticate("osk_ffffffffffff_x") is None  # revoked before, still
    assert directory.jurisdiction("630100")["level"] == "prefecture"


def test_an_existing_key_keeps_working_after_the_upgrade_on_sqlite(tmp_path):
    upgrade_and_check(settings_for(tmp_path))


@pytest.mark.integration
def test_an_existing_key_keeps_working_after_the_upgrade_on_postgres(postgres, tmp_path):
    urls = {n: postgres.url(postgres_db(postgres, f"up_{n}")) for n in SERVICES}
    upgrade_and_check(settings_for(tmp_path, urls))


def postgres_db(postgres, name):
    postgres.create_database(name)
    return name
