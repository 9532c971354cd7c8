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


# --- unit codes as deep as the tree (the step after each chain's directory copy) ------------

BEFORE_DEEP_CODES = {  # each chain's head before its codes were widened
    "intake": "061ab37e73f7",
    "dispatch": "8ca0e26885c0",
    "visits": "f4f1932848cf",
    "scoring": "e453e5e3ebae",
    "archive": "6af3e47b23d1",
}
DEEP_UNIT = "630102001-P0001-S0001-W0001"  # 27 characters: the longest unit code
DEEP_DEMAND = f"{DEEP_UNIT}-2026-000001"  # 39 characters
NOW = "2026-12-01T08:00:00+00:00"
# one row per service in a table holding a unit code and a demand code: table, values
# (``{unit}`` and ``{demand}`` are filled in; the 6-digit row first, then the deep one)
ROWS = {
    "intake": (
        "demands",
        {
            "code": "{demand}",
            "jurisdiction": "{unit}",
            "enterprise_credit_code": "91630102MA7522T5X6",
            "category": "technology",
            "title": "t",
            "description": "d",
            "source": "window",
            "consent_to_share": False,
            "status": "accepted",
            "correlation_id": "c",
            "accepted_by": "k",
            "accepted_at": NOW,
        },
    ),
    "dispatch": (
        "assignments",
        {
            "id": "a-{unit}",
            "demand_code": "{demand}",
            "jurisdiction": "{unit}",
            "city": "{unit}",
            "kind": "owner",
            "assignee_type": "department",
            "assignee_id": "cd-kjj",
            "assignee_name": "城东区科学技术局",
            "enterprise_credit_code": "91630102MA7522T5X6",
            "category": "technology",
            "reason": "r",
            "assigned_at": NOW,
            "status": "open",
            "consent_to_share": False,
        },
    ),
    "visits": ("demands", {"code": "{demand}", "jurisdiction": "{unit}", "credit_code": "x"}),
    "scoring": (
        "demand_owners",
        {
            "demand_code": "{demand}",
            "unit_type": "department",
            "unit_id": "cd-kjj",
            "unit_name": "城东区科学技术局",
            "jurisdiction": "{unit}",
            "category": "technology",
        },
    ),
    "archive": (
        "archived_events",
        {
            "event_id": "e-{unit}",
            "event_type": "demand.accepted",
            "event_version": 1,
            "producer": "intake",
            "jurisdiction": "{unit}",
            "correlation_id": "c",
            "demand_code": "{demand}",
            "occurred_at": NOW,
            "archived_at": NOW,
            "body": "{{}}",
            "prev_hash": "0",
            "hash": "1",
        },
    ),
}


def _insert(url: str, name: str, unit: str, demand: str) -> None:
    import sqlalchemy as sa

    table, template = ROWS[name]
    values = {
        k: v.format(unit=unit, demand=demand) if isinstance(v, str) else v
        for k, v in template.items()
    }
    columns = ", ".join(values)
    params = ", ".join(f":{k}" for k in values)
    engine = make_engine(url)
    try:
        with engine.begin() as conn:
            conn.execute(sa.text(f"INSERT INTO {table} ({columns}) VALUES ({params})"), values)
    finally:
        engine.dispose()


def _delete(url: str, name: str, unit: str) -> None:
    import sqlalchemy as sa

    table, template = ROWS[name]
    column = next(k for k, v in template.items() if v == "{unit}")
    engine = make_engine(url)
    try:
        with engine.begin() as conn:
            conn.execute(sa.text(f"DELETE FROM {table} WHERE {column} = :unit"), {"unit": unit})
    finally:
        engine.dispose()


def _codes(url: str, name: str) -> list[tuple[str, str]]:
    import sqlalchemy as sa

    table, template = ROWS[name]
    unit = next(k for k, v in template.items() if v == "{unit}")
    demand = next(k for k, v in template.items() if v == "{demand}")
    engine = make_engine(url)
    try:
        with engine.connect() as conn:
            rows = conn.execute(sa.text(f"SELECT {unit}, {demand} FROM {table} ORDER BY {unit}"))
            return [(r[0], r[1]) for r in rows]
    finally:
        engine.dispose()


@pytest.mark.integration
@pytest.mark.parametrize("name", sorted(BEFORE_DEEP_CODES))
def test_postgres_upgrade_widens_unit_codes_and_keeps_the_rows(postgres, name):
    """A database at the step before keeps its 6-digit rows through the upgrade and then
    takes a 27-character unit code and a 39-character demand code (it refused them
    before: value too long)."""
    from alembic import command
    from sqlalchemy.exc import DataError

    url = postgres.create_database(f"deep_codes_{name}")
    cfg = migrate.alembic_config(name, url)
    command.upgrade(cfg, BEFORE_DEEP_CODES[name])
    _insert(url, name, "630102", "630102-2026-000001")
    with pytest.raises(DataError, match="too long"):
        _insert(url, name, DEEP_UNIT, DEEP_DEMAND)
    command.upgrade(cfg, "head")
    assert _codes(url, name) == [("630102", "630102-2026-000001")]
    _insert(url, name, DEEP_UNIT, DEEP_DEMAND)
    assert _codes(url, name) == [("630102", "630102-2026-000001"), (DEEP_UNIT, DEEP_DEMAND)]
    assert _diff(url, name) == []
    # back: refused while a longer code is stored (nothing is cut), done once it is gone
    with pytest.raises(DataError, match="too long"):
        command.downgrade(cfg, BEFORE_DEEP_CODES[name])
    _delete(url, name, DEEP_UNIT)
    command.downgrade(cfg, BEFORE_DEEP_CODES[name])
    assert _codes(url, name) == [("630102", "630102-2026-000001")]
