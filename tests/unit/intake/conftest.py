"""Intake's use cases run against a fake unit of work: a throwaway SQLite file with
intake's tables and the demo tree (Qinghai, Xining and its districts, Haidong) as the
directory."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from services.intake.accepting import AcceptDemand, accept_demand
from services.intake.models import metadata
from services.intake.schemas import DemandIn
from shared.auth import Principal
from tests.factories import DEMO_DEMAND
from tests.fakes import FakeUnitOfWork, actor


@pytest.fixture
def uow(tmp_path: Path) -> FakeUnitOfWork:
    return FakeUnitOfWork(metadata, tmp_path / "intake.db")


@pytest.fixture
def accept(uow: FakeUnitOfWork) -> Callable[..., dict[str, Any]]:
    """``accept(by=actor(...), **fields)``: accept the demo demand (``fields`` replace
    its own) through the use case; returns the answer."""

    def accept_one(by: Principal | None = None, **over: Any) -> dict[str, Any]:
        data = DemandIn().load({**DEMO_DEMAND, **over})
        return accept_demand(uow, by or actor("district"), AcceptDemand(data), correlation_id="c")

    return accept_one
