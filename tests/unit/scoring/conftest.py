"""Scoring's fixtures: the migrated service (its consumers fed through the inbox) and a
fake unit of work over scoring's tables (use cases called directly)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from services.scoring.models import metadata
from tests.fakes import FakeUnitOfWork


@pytest.fixture
def svc(quiet_service: Any) -> Any:
    return quiet_service("scoring")


@pytest.fixture
def uow(tmp_path: Path) -> FakeUnitOfWork:
    return FakeUnitOfWork(metadata, tmp_path / "scoring.db")
