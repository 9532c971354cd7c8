"""Alembic, one chain per service (``services/<name>/migrations``).

All chains share one ``env.py`` (``shared/alembic``); each service database has
its own ``alembic_version`` table.
"""

from __future__ import annotations

import importlib
from pathlib import Path

from alembic import command
from alembic.config import Config
from sqlalchemy import MetaData

from shared.config import SERVICES, Settings

ROOT = Path(__file__).resolve().parent.parent


def metadata_of(name: str) -> MetaData:
    if name not in SERVICES:
        raise ValueError(f"unknown service {name!r}")
    return importlib.import_module(f"services.{name}.models").metadata


def versions_dir(name: str) -> Path:
    return ROOT / "services" / name / "migrations"


def alembic_config(name: str, url: str) -> Config:
    cfg = Config()
    cfg.set_main_option("path_separator", "os")
    cfg.set_main_option("script_location", str(ROOT / "shared" / "alembic"))
    cfg.set_main_option("version_locations", str(versions_dir(name)))
    cfg.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    cfg.attributes["metadata"] = metadata_of(name)
    return cfg


def upgrade(settings: Settings, names: tuple[str, ...] | None = None) -> None:
    from shared.db import make_engine

    for name in names or SERVICES:
        url = settings.database_url(name)
        make_engine(url).dispose()  # creates the SQLite directory when needed
        command.upgrade(alembic_config(name, url), "head")


def revision(settings: Settings, name: str, message: str) -> None:
    """Autogenerate a new revision of ``name``'s chain against its database."""
    cfg = alembic_config(name, settings.database_url(name))
    command.revision(cfg, message=message, autogenerate=True, version_path=str(versions_dir(name)))
