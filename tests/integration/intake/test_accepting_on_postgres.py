"""Accepting demands at once on PostgreSQL: every demand takes its number apart from its
own transaction, so codes stay unique and never reused under concurrency and rollbacks (a
rolled-back demand leaves its number unused), and concurrent retries with one
Idempotency-Key store one demand."""

from __future__ import annotations

import threading
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import pytest
from sqlalchemy import func, select

from onestop import migrate
from services import intake
from services.intake.accepting import AcceptDemand, Filing, accept_demand, store_demand
from services.intake.idempotency import IdempotencyKey, Replayed
from services.intake.models import demand_sequences, demands, enterprises
from services.intake.schemas import DemandIn
from shared.config import load_settings
from shared.db import UnitOfWork
from shared.runtime import Service
from tests.factories import DEMO_DEMAND
from tests.fakes import FakeDirectory, actor

pytestmark = pytest.mark.integration

YEAR = datetime.now(UTC).year


@pytest.fixture
def svc(postgres, tmp_path) -> Service:
    """Intake on a fresh PostgreSQL database (the directory in memory, no relay)."""
    name = f"accept_{tmp_path.name[-20:].lower().replace('-', '_')}"
    env = {"ONESTOP_DATA_DIR": str(tmp_path)}
    for n in ("directory", "intake", "dispatch", "visits", "scoring", "archive"):
        env[f"ONESTOP_{n.upper()}_DATABASE_URL"] = postgres.create_database(f"{name}_{n}")
    settings = load_settings(env)
    migrate.upgrade(settings, ("intake",))
    return intake.build(settings)


def uow_of(svc: Service) -> UnitOfWork:
    return UnitOfWork(svc.db, svc.outbox, directory=FakeDirectory())


def at_once(runs: list[Callable[[], Any]]) -> list[Any]:
    """Run each callable on its own thread, started together; their results (or errors)."""
    barrier = threading.Barrier(len(runs))
    results: list[Any] = [None] * len(runs)

    def run(i: int) -> None:
        barrier.wait()
        try:
            results[i] = runs[i]()
        except BaseException as exc:  # reported by the caller
            results[i] = exc

    threads = [threading.Thread(target=run, args=(i,)) for i in range(len(runs))]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    return results


class Abandoned(Exception):
    """A demand's transaction failing after it took its number."""


def test_concurrent_demands_and_rollbacks_leave_unique_codes_never_reused(svc):
    data = DemandIn().load(DEMO_DEMAND)  # a new enterprise: the first demands register it

    def accepting(n: int) -> Callable[[], list[str]]:
        def run() -> list[str]:
            uow = uow_of(svc)
            return [
                accept_demand(uow, actor("district"), AcceptDemand(data), correlation_id="c")[
                    "code"
                ]
                for _ in range(n)
            ]

        return run

    def abandoning(n: int) -> Callable[[], int]:
        def run() -> int:
            uow = uow_of(svc)
            for _ in range(n):
                with uow, pytest.raises(Abandoned):
                    store_demand(uow, data, Filing("630102", None), "k", "c", datetime.now(UTC))
                    raise Abandoned
            return n

        return run

    results = at_once([accepting(10), accepting(10), abandoning(10), accepting(10)])
    assert not [r for r in results if isinstance(r, BaseException)], results
    codes = [code for r in results if isinstance(r, list) for code in r]
    numbers = {int(code.removeprefix(f"630102-{YEAR}-")) for code in codes}
    assert len(numbers) == len(codes) == 30
    assert numbers < set(range(1, 41))  # the ten abandoned ones left theirs unused
    for r in results[:2]:  # each filer's own demands are numbered in the order accepted
        assert r == sorted(r)
    with svc.db.session() as s:
        assert s.execute(select(func.count()).select_from(demands)).scalar_one() == 30
        assert s.execute(select(func.count()).select_from(enterprises)).scalar_one() == 1
        assert s.execute(select(demand_sequences.c.last_value)).scalar_one() == 40
    nxt = accept_demand(uow_of(svc), actor("district"), AcceptDemand(data), correlation_id="c")
    assert nxt["code"] == f"630102-{YEAR}-000041"  # an unused number is never taken again


def test_concurrent_retries_with_one_key_store_one_demand(svc):
    key = IdempotencyKey.of("retry-1", DEMO_DEMAND)
    command = AcceptDemand(DemandIn().load(DEMO_DEMAND), key)

    def retry() -> str:
        try:
            return str(
                accept_demand(uow_of(svc), actor("district"), command, correlation_id="c")["code"]
            )
        except Replayed as again:
            return f"replayed {again.body}"

    results = at_once([retry] * 4)
    firsts = [r for r in results if isinstance(r, str) and not r.startswith("replayed")]
    assert firsts == [f"630102-{YEAR}-000001"], results
    assert all(f'"code": "{firsts[0]}"' in r for r in results if r not in firsts), results
    with svc.db.session() as s:
        assert s.execute(select(demands.c.code)).scalars().all() == firsts
    with svc.db.session() as s:
        taken = s.execute(select(demand_sequences.c.last_value)).scalar_one()
    assert 1 <= taken <= 4  # a retry that met the key at its claim left its number unused
    assert retry().startswith("replayed")  # a later retry meets the key first …
    nxt = accept_demand(
        uow_of(svc), actor("district"), AcceptDemand(command.fields), correlation_id="c"
    )
    assert nxt["code"] == f"630102-{YEAR}-{taken + 1:06d}"  # … and takes no number
