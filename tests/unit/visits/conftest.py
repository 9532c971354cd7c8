"""Visits' use cases run against a fake unit of work (a throwaway SQLite file with visits'
tables) holding ``tests.factories.VisitsWorld``: two districts' departments and staff,
three enterprises, one link."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from typing import Any

import pytest

from services.visits.models import metadata
from services.visits.visitlog import log_visit
from tests.factories import VisitsWorld
from tests.fakes import FakeUnitOfWork, actor

ADMIN = actor("admin", "630000", key_id="k")


@pytest.fixture
def uow(tmp_path: Any) -> FakeUnitOfWork:
    u = FakeUnitOfWork(metadata, tmp_path / "visits.db")
    VisitsWorld.seed(u)
    return u


@pytest.fixture
def visit(uow: FakeUnitOfWork) -> Callable[..., dict[str, Any]]:
    """``visit(day, [credit codes], staff_id=… | department_id=… | team_id=…)``: a
    visit logged by the province's administrator (a demand survey unless ``kind``)."""

    def log(day: date, enterprises: list[str], **more: Any) -> dict[str, Any]:
        body, replayed = log_visit(
            uow,
            ADMIN,
            {"visited_on": day, "enterprises": enterprises, "kind": "demand_survey", **more},
            correlation_id="cid",
        )
        assert not replayed
        return body

    return log
