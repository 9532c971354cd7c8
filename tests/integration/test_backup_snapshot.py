"""``onestop backup`` on PostgreSQL dumps each database as its snapshot saw it: records
archived while the backup runs are in neither the archive's dump nor the recorded head."""

from __future__ import annotations

from pathlib import Path

import pytest

from bench.archive_bench import _copy_to_postgres
from bench.archive_bench import build as build_archive
from onestop import migrate
from onestop.backup import backup, check_bundle, restore
from shared.config import SERVICES, load_settings

pytestmark = pytest.mark.integration


def _settings(postgres, prefix: str, data: Path):
    urls = {
        f"ONESTOP_{n.upper()}_DATABASE_URL": postgres.create_database(f"{prefix}_{n}")
        for n in SERVICES
    }
    return load_settings({"ONESTOP_DATA_DIR": str(data), **urls})


def test_records_archived_during_the_backup_are_not_in_it(postgres, tmp_path):
    source = _settings(postgres, "snapsrc", tmp_path / "var")
    migrate.upgrade(source)
    events = tmp_path / "archive.db"
    build_archive(events, 120)
    dsn = source.database_url("archive").replace("postgresql+psycopg://", "postgresql://")
    _copy_to_postgres(events, dsn, 0, 100)

    def meanwhile(line: str) -> None:
        if line.startswith("dumped directory"):  # the archive is dumped last, after this
            _copy_to_postgres(events, dsn, 100, 120)

    bundle = backup(source, tmp_path / "backups", say=meanwhile)
    head = check_bundle(bundle)["archive_chain_head"]
    assert (head["length"], head["last_seq"]) == (100, 100)

    target = _settings(postgres, "snapdst", tmp_path / "var2")
    done = restore(target, bundle, say=lambda _: None)
    assert done["archive"]["checked"] == 100  # the chain as it was, and its head with it
    assert done["archive"]["last_hash"] == head["last_hash"]
