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
from tests.fakes import DIVISIONS, FakeDirectory, FakeUnitOfWork, actor

# Units below a county, as the directory opens them: two parks of 城东区 and a work station
PARKS = {
    "630102-P0001": ("东川工业园区", "630102", "park"),
    "630102-P0002": ("城东区第二园区", "630102", "park"),
    "630102-P0001-W0001": ("东川工业园区科技工作站", "630102-P0001", "workstation"),
}


@pytest.fixture
def uow(tmp_path: Path) -> FakeUnitOfWork:
    return FakeUnitOfWork(metadata, tmp_path / "intake.db")


@pytest.fixture
def park_uow(tmp_path: Path) -> FakeUnitOfWork:
    """Intake's tables; the directory knows the demo tree and ``PARKS``."""
    return FakeUnitOfWork(
        metadata, tmp_path / "intake.db", directory=FakeDirectory({**DIVISIONS, **PARKS})
    )


@pytest.fixture
def accept(uow: FakeUnitOfWork) -> Callable[..., dict[str, Any]]:
    """``accept(by=actor(...), **fields)``: accept the demo demand (``fields`` replace
    its own) through the use case; returns the answer."""

    def accept_one(by: Principal | None = None, **over: Any) -> dict[str, Any]:
        data = DemandIn().load({**DEMO_DEMAND, **over})
        return accept_demand(uow, by or actor("district"), AcceptDemand(data), correlation_id="c")

    return accept_one
