"""Every service's migration chain builds exactly the tables its models declare."""

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from onestop import migrate
from shared.config import SERVICES, load_settings
from shared.db import make_engine

NAMES = SERVICES


def _diff(url: str, name: str) -> list:
    engine = make_engine(url)
    try:
        with engine.connect() as conn:
            ctx = MigrationContext.configure(conn, opts={"compare_type": True})
            return compare_metadata(ctx, migrate.metadata_of(name))
    finally:
        engine.dispose()


@pytest.mark.parametrize("name", NAMES)
def test_sqlite_schema_matches_models(tmp_path, name):
    settings = load_settings({"ONESTOP_DATA_DIR": str(tmp_path)})
    migrate.upgrade(settings, (name,))
    assert _diff(settings.database_url(name), name) == []


@pytest.mark.integration
def test_postgres_schema_matches_models_and_upgrade_is_repeatable(postgres, tmp_path):
    env = {"ONESTOP_DATA_DIR": str(tmp_path)}
    for n in NAMES:
        env[f"ONESTOP_{n.upper()}_DATABASE_URL"] = postgres.url(n)
    settings = load_settings(env)
    migrate.upgrade(settings)
    migrate.upgrade(settings)  # a second run is a no-op
    for name in NAMES:
        assert _diff(settings.database_url(name), name) == [], name
