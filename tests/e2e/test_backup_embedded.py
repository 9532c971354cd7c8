"""Backup and restore of the embedded default (SQLite, ``make run``): the same bundle and
checks as on PostgreSQL, through SQLite's online backup API while the platform runs."""

from __future__ import annotations

import hashlib
import shutil
import sqlite3
from datetime import timedelta
from pathlib import Path

import pytest
from werkzeug.test import Client

from onestop.backup import BackupError, backup, check_bundle, restore
from onestop.embedded import Platform
from shared.config import SERVICES, load_settings
from tests.e2e.support import auth, drive, ready
from tests.factories import DEMO_DEMAND
from tests.support import reset_in_process_broker, wait_for

pytestmark = pytest.mark.e2e


def _settings(data: Path):
    return load_settings(
        {
            "ONESTOP_DATA_DIR": str(data),
            "ONESTOP_BROKER_URL": f"memory://localhost/{data.name}",
            "ONESTOP_SWEEP_INTERVAL": "0.2",
            "ONESTOP_CREDENTIAL_CACHE": "1",
        }
    )


def _tables(url: str) -> int:
    path = Path(url.removeprefix("sqlite:///"))
    if not path.exists():
        return 0
    with sqlite3.connect(path) as conn:
        return int(conn.execute("SELECT count(*) FROM sqlite_master").fetchone()[0])


@pytest.fixture
def bundle(platform, tmp_path):
    """A bundle of a running platform that archived a demand's whole loop."""
    c, h = Client(platform.wsgi), auth(platform, "district")
    ready(c, h)
    drive(c, h)
    assert platform.quiesce()
    return backup(platform.settings, tmp_path / "backups", say=lambda _: None)


def test_restore_onto_an_empty_data_directory_then_a_new_demand_flows(platform, bundle, tmp_path):
    manifest = check_bundle(bundle)
    head = manifest["archive_chain_head"]
    assert head["length"] > 5 and head["last_hash"]
    assert set(manifest["databases"]) == set(SERVICES)
    assert manifest["broker"] == {"embedded": True}
    platform.stop()

    reset_in_process_broker()
    fresh = tmp_path.parent / f"{tmp_path.name}-restored"
    (fresh / "var").mkdir(parents=True)
    for key in platform.settings.data_dir.glob("*-secret.key"):  # kept apart from bundles
        shutil.copy2(key, fresh / "var" / key.name)
    settings = _settings(fresh / "var")
    lines: list[str] = []
    done = restore(settings, bundle, say=lines.append)
    assert done["archive"] == {
        "ok": True,
        "checked": head["length"],
        "last_hash": head["last_hash"],
    }
    assert f"archive chain: full walk of {head['length']} records = recorded head" in lines

    p = Platform(settings)
    p.start()
    try:
        c, h = Client(p.wsgi), auth(platform, "district")
        r = c.post("/intake/api/v1/demands", json=DEMO_DEMAND, headers=h)
        assert r.status_code == 201, r.get_data(as_text=True)
        code = r.get_json()["code"]
        wait_for(
            lambda: (
                {"demand.accepted", "assignment.made"}
                <= {
                    e["event_type"]
                    for e in c.get(f"/archive/api/v1/trace/{code}", headers=h)
                    .get_json()
                    .get("events", [])
                }
            ),
            timeout=20,
        )
    finally:
        p.stop()


def test_one_changed_byte_is_refused_before_anything_is_written(bundle, tmp_path):
    for name in ("archive.sqlite3", "manifest.json"):
        bad = tmp_path / f"bad-{name}"
        shutil.copytree(bundle, bad)
        data = bytearray((bad / name).read_bytes())
        data[len(data) // 2] ^= 0x01
        (bad / name).write_bytes(bytes(data))
        settings = _settings(tmp_path / f"target-{name}")
        with pytest.raises(BackupError, match="sha256"):
            restore(settings, bad, say=lambda _: None)
        assert all(_tables(settings.database_url(n)) == 0 for n in SERVICES)


def test_a_non_empty_target_is_refused_and_force_replaces_it(platform, bundle):
    digests = {
        n: hashlib.sha256(
            Path(platform.settings.database_url(n).removeprefix("sqlite:///")).read_bytes()
        ).hexdigest()
        for n in SERVICES
    }
    with pytest.raises(BackupError, match="not empty"):
        restore(platform.settings, bundle, say=lambda _: None)
    assert digests == {
        n: hashlib.sha256(
            Path(platform.settings.database_url(n).removeprefix("sqlite:///")).read_bytes()
        ).hexdigest()
        for n in SERVICES
    }
    platform.stop()
    done = restore(platform.settings, bundle, force=True, say=lambda _: None)
    assert done["archive"]["ok"]


def test_restore_sends_again_what_was_published_just_before_the_backup(platform, bundle, tmp_path):
    platform.stop()
    quiet = _settings(tmp_path / "none")
    done = restore(quiet, bundle, republish=timedelta(0), say=lambda _: None)
    assert {d["republish"] for d in done["databases"].values()} == {0}
    settings = _settings(tmp_path / "again")
    done = restore(settings, bundle, say=lambda _: None)
    # the demand's events were published seconds (not an hour) before the backup: unpublished
    # again, the restored relays send them once more and the inboxes drop what was applied
    resent = done["databases"]["intake"]["republish"]
    assert resent >= 1
    with sqlite3.connect(settings.database_url("intake").removeprefix("sqlite:///")) as conn:
        [(pending,)] = conn.execute("SELECT count(*) FROM outbox WHERE published_at IS NULL")
    assert pending == resent
