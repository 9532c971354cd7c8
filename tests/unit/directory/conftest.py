"""The directory's use cases on a fake unit of work over its own tables."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from services.directory.models import metadata
from services.directory.units import UnitChange, record
from shared.directory import LocalDirectory
from tests.fakes import FakeUnitOfWork, actor

TREE = [
    ("630000", "青海省", None, "province"),
    ("630100", "西宁市", "630000", "prefecture"),
    ("630102", "城东区", "630100", "county"),
    ("630103", "城中区", "630100", "county"),
    ("620000", "甘肃省", None, "province"),
]


@pytest.fixture
def uow(tmp_path):
    u = FakeUnitOfWork(metadata, tmp_path / "directory.db")
    u.directory = LocalDirectory(u.db, cache_seconds=0)
    now = datetime.now(UTC)
    with u:
        for code, name, parent, level in TREE:
            change = UnitChange("opened", code, name, level, parent, "gb2260", "test tree")
            record(u.session, change, "test", now)
        u.commit()
    u.committed.clear()
    return u


@pytest.fixture
def province_admin():
    return actor("admin", "630000")


@pytest.fixture
def city_admin():
    return actor("admin", "630100")
