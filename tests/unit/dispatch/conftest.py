"""Dispatch's consumers and use cases against a fake unit of work (a throwaway SQLite file
with dispatch's tables), events read back from its outbox.

``alliance`` holds the city of Xining's map (its office, and 城东区 with a leader and a
named person), three members (two patent, one finance) and two menu prices."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from itertools import count
from typing import Any

import pytest
from sqlalchemy import select

from services.dispatch.consumers import on_demand_accepted
from services.dispatch.models import assignments, metadata
from services.dispatch.seed import seed_responsibility
from shared.errors import status_of
from shared.events import Event, make_event
from shared.outbox import Inbox
from shared.usecases import DomainError
from tests.factories import accepted_payload
from tests.fakes import FakeDirectory, FakeUnitOfWork

DEPTS = [
    ("xn-office", "630100", "西宁市科学技术局 办公室", (), True),
    ("cd-kjj", "630102", "城东区科学技术局", (), True),
]
STAFF = [("s-lead", "cd-kjj", "赵敏", "副局长"), ("s-1", "cd-kjj", "陈静", "包保专员")]
AGENCIES = [
    ("pat-a", "知桥专利", "patent", 55),
    ("pat-b", "智权知识产权", "patent", 17),
    ("fin-a", "汇智金融", "finance", 42),
]
MENU = [("ip_filing", 3000, 3000, 6), ("patent_use", 8000, 8000, 18)]


@pytest.fixture
def uow(tmp_path: Any) -> FakeUnitOfWork:
    """An empty dispatch database; its directory knows the demo tree."""
    return FakeUnitOfWork(metadata, tmp_path / "dispatch.db", directory=FakeDirectory())


@pytest.fixture
def alliance(uow: FakeUnitOfWork) -> FakeUnitOfWork:
    """Xining's map, members and menu (see the module's docstring)."""
    seed_responsibility(
        uow, DEPTS, STAFF, AGENCIES, "630100", leaders={"cd-kjj": "s-lead"}, menu=MENU
    )
    return uow


@pytest.fixture
def events(uow: FakeUnitOfWork) -> Callable[..., list[tuple[dict[str, Any], str]]]:
    """``events(event_type=None)``: (message, routing key) of every event in the outbox."""

    def read(event_type: str | None = None) -> list[tuple[dict[str, Any], str]]:
        outbox = metadata.tables["outbox"]
        with uow.read() as s:
            rows = s.execute(select(outbox.c.body, outbox.c.routing_key)).all()
        out = [(json.loads(b), k) for b, k in rows]
        return [(e, k) for e, k in out if event_type is None or e["event_type"] == event_type]

    return read


@pytest.fixture
def deliver(uow: FakeUnitOfWork) -> Callable[..., Event]:
    """``deliver(event_type, handler, where="630102", correlation_id=None, **payload)``:
    the event, applied once through the inbox as the worker applies it."""
    inbox = Inbox(metadata.tables["processed_events"])

    def apply(
        event_type: str,
        handler: Callable[[Event, Any], None],
        where: str = "630102",
        correlation_id: str | None = None,
        **payload: Any,
    ) -> Event:
        ev = make_event(
            event_type,
            1,
            producer="intake",
            jurisdiction=where,
            payload=payload,
            correlation_id=correlation_id,
        )
        assert inbox.apply(lambda: uow, f"dispatch.{handler.__name__}", ev, handler)
        return ev

    return apply


@pytest.fixture
def accept(deliver: Callable[..., Event]) -> Callable[..., str]:
    """``accept(item="ip_filing", agency_category="patent", **payload)``: a market demand
    of 城东区 accepted (due in five days); its code."""
    numbers = count(1)

    def demand(item: str = "ip_filing", agency_category: str | None = "patent", **over: Any) -> str:
        code = f"630102-2026-{next(numbers):06d}"
        payload = accepted_payload(
            demand_code=code,
            category="ip",
            service_item=item,
            agency_category=agency_category,
            expected_at=(datetime.now(UTC) + timedelta(days=5)).isoformat(),
            **over,
        )
        deliver("demand.accepted", on_demand_accepted, **payload)
        return code

    return demand


@pytest.fixture
def orders_of(uow: FakeUnitOfWork) -> Callable[[str], list[Any]]:
    """``orders_of(code)``: the agency orders of a demand."""

    def read(code: str) -> list[Any]:
        with uow.read() as s:
            return list(
                s.execute(
                    select(assignments).where(
                        assignments.c.demand_code == code, assignments.c.kind == "agency"
                    )
                )
                .mappings()
                .all()
            )

    return read


@pytest.fixture
def refusal() -> Callable[[Callable[[], Any]], tuple[int, DomainError]]:
    """``refusal(call)``: the status code and the domain error ``call()`` refuses with."""

    def refused(call: Callable[[], Any]) -> tuple[int, DomainError]:
        with pytest.raises(DomainError) as e:
            call()
        return status_of(e.value), e.value

    return refused
